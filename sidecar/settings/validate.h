// The rules a Settings must satisfy before the daemon starts, and the small predicates behind them
// that other parts of settings/ share.
//
// Threading: thread-safe (pure functions, apart from ValidateSettings opening the certificate
// files to prove they are readable).
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "sidecar/settings/settings.h"

namespace tether::settings {

// Checks every rule and returns InvalidArgument for the first one broken, with one plain message
// per rule naming the flag and the value ("--ping-timeout 5s must exceed --ping-interval 30s").
// Certificate and key files must exist and be readable; their contents are never read into a
// message. An empty node_id or node_hostname is accepted: PrepareNode (node_identity.h) fills
// them in after validation, checking what it fills.
absl::Status ValidateSettings(const Settings& settings);

// A UUID in 8-4-4-4-12 hex form, either case: what Kong's is_valid_uuid accepts and what the CP
// can store in its uuid column (kong-protocol.md §1.1).
bool IsValidUuid(absl::string_view id);

// A host as Kong's typedefs.host accepts it: a hostname (letters, digits, '-', '.', '_'; no label
// ends in '-'; only the last label may be empty, i.e. a trailing dot), an IPv4 address, or an
// IPv6 address without brackets. No port.
bool IsValidHost(absl::string_view host);

// A version the CP can compare: ^\d+\.\d+\.\d+, then an optional suffix of letters, digits and
// ".-_" with no empty segment ("..") anywhere (Kong's compat/version.lua and
// typedefs.semantic_version).
bool IsValidKongVersion(absl::string_view version);

}  // namespace tether::settings

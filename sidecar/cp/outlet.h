// The websocket URL of Kong's v1 data-plane endpoint (kong-protocol.md §1.1), for the upgrade
// request, logs and status.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "sidecar/cp/session.h"

namespace tether::cp {

// The request target: "/v1/outlet?node_id=...&node_hostname=...&node_version=...". Kong
// concatenates the query values without URL-encoding (§1.1); the values are validated at
// start-up so none needs it.
// `node_version` is the version advertised on this attempt (see VersionNegotiator).
std::string OutletTarget(const SessionOptions& options, absl::string_view node_version);

// "wss://host:port/v1/outlet?node_id=...&node_hostname=...", for logs and status: without
// node_version, which can change from one attempt to the next (`auto`); status shows the version
// in use as node.version.
std::string OutletUrl(const SessionOptions& options);

}  // namespace tether::cp

// The parsers behind the flag table (flag_table.cc): each turns one flag value into its typed
// field of Settings. Internal to settings/.
//
// A parser returns InvalidArgument with only the reason ("not a duration"); ParseSettings
// prefixes the flag, the value and where the value came from. Syntax is checked here; the rules
// on what a well-formed value may be (which hosts, which ranges) are ValidateSettings'.
//
// Threading: thread-safe (pure functions; ParsePlugins reads the @file it is given).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/settings/settings.h"

namespace tether::settings {

// A value as settings messages show it: quoted, with control bytes escaped.
std::string Quote(absl::string_view s);

// A finite duration: 500ms, 2s, 1m.
absl::Status ParseDurationTo(absl::string_view value, absl::Duration& out);

// A byte count: digits, optionally followed by KiB, MiB or GiB.
absl::Status ParseBytesTo(absl::string_view value, int64_t& out);

// A count from 1 to 2^31-1 (gRPC takes its limits as int).
absl::Status ParseCountTo(absl::string_view value, int64_t& out);

// Comma-separated numeric user or group ids: 0,1000. Empty gives an empty list.
absl::Status ParseIdsTo(absl::string_view value, std::vector<uint32_t>& out);

// true/false, 1/0, yes/no, on/off, in any case.
absl::Status ParseBoolTo(absl::string_view value, bool& out);

// Whether a host:port value must carry its port.
enum class PortRule { kOptional, kRequired };

// host, host:port, [v6] or [v6]:port into `out`; without a port, out.port keeps its value. Ports
// run from `min_port` (1, or 0 where 0 means "any free port") to 65535.
absl::Status ParseHostPort(absl::string_view value, PortRule rule, int min_port, HostPort& out);

// A plain string.
template <typename T>
absl::Status CopyTo(absl::string_view value, T& out) {
  out = std::string(value);
  return absl::OkStatus();
}

// The path of a PEM file. Kong also accepts PEM text or base64 PEM for certificates and keys;
// tether refuses those ("LS0tLS1CRUdJTi" is "-----BEGIN" in base64).
template <typename T>
absl::Status ParsePemPathTo(absl::string_view value, T& out) {
  if (absl::StrContains(value, '\n') || absl::StartsWith(value, "-----BEGIN") ||
      absl::StartsWith(value, "LS0tLS1CRUdJTi")) {
    return absl::InvalidArgumentError("inline pem is not supported, give the path of a pem file");
  }
  return CopyTo(value, out);
}

// The parsers of one flag each, named after the setting they fill.
absl::Status ParseControlPlane(absl::string_view value, Settings& s);
absl::Status ParseMtls(absl::string_view value, Settings& s);
absl::Status ParseLabels(absl::string_view value, Settings& s);
absl::Status ParseProxyServer(absl::string_view value, Settings& s);
// Appends: --grpc-listen is repeatable.
absl::Status ParseGrpcListen(absl::string_view value, Settings& s);
absl::Status ParseLogLevel(absl::string_view value, Settings& s);
absl::Status ParseLogFormat(absl::string_view value, Settings& s);
absl::Status ParseStartupPolicy(absl::string_view value, Settings& s);
absl::Status ParseReportHash(absl::string_view value, Settings& s);
// Comma-separated entity type names.
absl::Status ParseWriteConfigTypes(absl::string_view value, Settings& s);

// "bundled" (Kong's bundled plugins at s.node_version), "off" (none), or name[:version] entries,
// or @file with one entry a line. Reads s.node_version, so it must run after --node-version is
// set (the table applies it last; see ApplyStage in flag_table.h).
absl::Status ParsePlugins(absl::string_view value, Settings& s);

}  // namespace tether::settings

// The open-source Kong control plane's checks and message shapes, as pure functions, for
// tether-devcp.
//
// Why: keeping the protocol rules apart from the socket code lets them be tested without a
// network and read in one place. Each function cites kong-protocol.md, whose
// sections name the Kong source behind every rule; error messages are Kong's own log lines so
// that a developer can compare a devcp log with a real CP's.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tether::devcp {

// The parts of the upgrade request's target the CP looks at (§1.1).
struct OutletTarget {
  std::string path;
  // Raw values as nginx's $arg_* gives them: no URL-decoding, first occurrence wins, nullopt
  // when the key is absent (an empty value is present, as in Kong).
  std::optional<std::string> node_id;
  std::optional<std::string> node_hostname;
  std::optional<std::string> node_version;
};
OutletTarget ParseOutletTarget(absl::string_view target);

struct KongVersion {
  int major = 0;
  int minor = 0;
};
// `^(\d+)\.(\d+)\.\d+` as compat/version.lua matches it (§1.1); a suffix is allowed.
std::optional<KongVersion> ParseKongVersion(absl::string_view version);

// §2 step 2 (`check_version_compatibility`): FailedPrecondition carrying Kong's message when the
// DP major differs from the CP's, the DP minor is newer, or either version does not parse.
absl::Status CheckVersionCompatibility(absl::string_view dp_version, absl::string_view cp_version);

// What the CP keeps of a valid basic_info (§2).
struct BasicInfo {
  // Names of the plugins loaded on the DP; versions are not compared (see FindMissingPlugin).
  std::set<std::string> plugins;
};
// §2 step 1: InvalidArgument carrying Kong's log message when `data` is not a basic_info:
// empty, not JSON, wrong `type`, or `plugins` neither an array nor an object (an object is what
// Lua's cjson makes of an empty plugin list).
absl::StatusOr<BasicInfo> ParseBasicInfo(absl::string_view data);

// §3.4 `plugin_set_incompatible`: the first configured plugin the DP does not have, if any.
// Plugin versions are not compared: devcp has no plugins of its own to compare them with.
std::optional<std::string> FindMissingPlugin(const std::vector<std::string>& configured,
                                             const std::set<std::string>& dp_plugins);

// §4.2: why the CP drops a DP that sent this frame after basic_info, or nullopt for a valid
// ping. `frame_type` is "ping", "pong", "text" or "binary". The length check comes first, as
// in Kong, so a short text frame is reported as an invalid hash, not as a text frame.
std::optional<std::string> CheckDataPlaneFrame(absl::string_view frame_type,
                                               absl::string_view payload);

// §4.2: the message for a DP that stayed silent for `ping_wait`.
std::string PingTimeoutReason(absl::Duration ping_wait);

}  // namespace tether::devcp

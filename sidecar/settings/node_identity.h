// The node's identity and its place on disk: the hostname it reports, the data directory and the
// node id persisted inside it. This is the I/O start-up needs after ParseSettings, which does none.
//
// Kong persists a data plane's node id so that the CP keeps one status row per node across
// restarts (kong-protocol.md §8, 09-node-id-persistence). tether does the same in
// <data_dir>/node_id.
//
// Threading: thread-compatible. Two processes sharing one data dir may race to create the id;
// each rename is atomic, so the file always holds one whole id, but the loser may have used a
// different one for its first connection. Give each tether its own data dir.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sidecar/settings/settings.h"

namespace tether::settings {

// Completes settings that ParseSettings returned, before anything uses them:
//   1. without --node-hostname, node_hostname becomes the system's hostname (InvalidArgument if
//      that is not a valid host, since the operator must then set the flag);
//   2. creates data_dir as EnsureDataDir does;
//   3. without --node-id, node_id becomes the id persisted there (LoadOrCreateNodeId).
// Afterwards settings still pass ValidateSettings, with both fields set. File system failures keep
// their own code.
absl::Status PrepareNode(Settings& settings);

// Name of the node id file inside the data dir.
inline constexpr char kNodeIdFileName[] = "node_id";

// Creates data_dir with mode 0710 if it is missing (missing parents get 0755). An existing
// directory is left as it is. Fails if the path exists and is not a directory.
absl::Status EnsureDataDir(const std::string& data_dir);

// Returns the node id persisted in <data_dir>/node_id, creating the dir as EnsureDataDir does.
// When the file is missing, a random v4 UUID is generated and written (mode 0600, through a temp
// file and a rename, so a crash never leaves a partial id). When it holds something other than a
// UUID (surrounding whitespace is ignored), a warning is logged and a new id replaces it, as Kong
// does. Fails only if the file cannot be read or written.
absl::StatusOr<std::string> LoadOrCreateNodeId(const std::string& data_dir);

// Name of the file inside the data dir that remembers the Kong version the CP accepted, so that
// --node-version=auto starts from it on the next run.
inline constexpr char kKongVersionFileName[] = "kong_version";

// The 3.x minor remembered in <data_dir>/kong_version, or nullopt when there is none or it cannot
// be read (then the negotiation starts from the newest version; nothing is fatal).
std::optional<int> LoadRememberedKongMinor(const std::string& data_dir);

// Remembers `version` ("3.9.0") in <data_dir>/kong_version, atomically.
absl::Status RememberKongVersion(const std::string& data_dir, absl::string_view version);

// A random (version 4, RFC 4122) UUID in lowercase, from the kernel's random source.
absl::StatusOr<std::string> GenerateUuidV4();

}  // namespace tether::settings

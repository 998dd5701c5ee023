// --write-config: the current config as a Kong declarative config file (JSON, or YAML for a
// .yaml/.yml path), the file a file-reading proxy or DB-less Kong loads.
//
// The document is Kong's flat config_table, written by protocol/config_table_json.h like
// `tetherctl get --json`'s `config`; in JSON each entity is the CP's text byte for byte. The
// file holds credentials and keys: mode 0600, and replaced atomically (a temp file in the same
// directory, fsync, rename), so a reader never sees part of one.
//
// Threading: thread-safe (pure functions; WriteConfigFile writes only its own temp file).
#pragma once

#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sidecar/config/snapshot.h"

namespace tether::exporter {

enum class FileFormat { kJson, kYaml };

// YAML for a path ending in .yaml or .yml, JSON otherwise.
FileFormat FormatForPath(absl::string_view path);

// `snapshot` as a declarative config holding only the entity types in `types` (every type when
// empty) and every metadata key.
absl::StatusOr<std::string> RenderConfig(const config::Snapshot& snapshot,
                                         const std::set<std::string>& types, FileFormat format);

// RenderConfig in path's format, then replaces `path` with it (mode 0600).
absl::Status WriteConfigFile(const std::string& path, const config::Snapshot& snapshot,
                             const std::set<std::string>& types);

}  // namespace tether::exporter

// Kong's flat config_table as JSON: the metadata keys (`_format_version`, `_transform`, ...),
// then one array per entity type. What `tetherctl get --json` prints under `config` and what
// tether --write-config writes: Kong's declarative config, which `kong config parse`, DB-less
// Kong and a CP (tether-devcp --config) read back.
//
// Threading: thread-safe (pure functions).
#pragma once

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"

namespace tether::protocol {

// Views of the config's text, in the order they are written.
struct ConfigTableView {
  // Top-level keys that are not entity collections -> their JSON value.
  std::vector<std::pair<absl::string_view, absl::string_view>> metadata;
  // Entity type -> each entity's id (for errors) and JSON.
  using Rows = std::vector<std::pair<absl::string_view, absl::string_view>>;
  std::vector<std::pair<absl::string_view, Rows>> types;
};

// How entity and metadata JSON reaches the document.
enum class ValueForm {
  // Written as given, byte for byte: the caller vouches that each value is JSON (tether's own
  // snapshots, whose rows the decoder checked).
  kVerbatim,
  // Parsed and written again in the document's indentation: for text from elsewhere, which
  // must be checked; DataLoss names the first value that is not JSON.
  kReformatted,
};

using JsonWriter = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

// Writes `table` as one JSON object (a value: the caller may be inside an object or at the top).
absl::Status WriteConfigTable(const ConfigTableView& table, ValueForm form, JsonWriter& writer);

}  // namespace tether::protocol

// The reconfigure message a control plane pushes (kong-protocol.md §3.2), built from a
// config_table as a Kong CP builds it.
//
// Why in protocol/: tether-devcp pushes it and the benchmarks replay it byte for byte; both need
// the same builder, and neither should link the other to get it.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rapidjson/document.h"

namespace tether::protocol {

// A reconfigure message ready to gzip (§3.2).
struct Reconfigure {
  // {"type":"reconfigure","timestamp":...,"config_table":...,"config_hash":...,"hashes":{...}}
  std::string message_json;
  std::string config_hash;
  // Distinct `name`s of the rows in config_table.plugins, sorted: what §3.4 gates on.
  std::vector<std::string> configured_plugins;
};
// Parses `config_table_json` (an object: the flat CP push form of §7) and stamps it with
// CalculateConfigHash and `now` (seconds with millisecond resolution, like ngx.now()).
// InvalidArgument when the text is not JSON or not an object.
absl::StatusOr<Reconfigure> BuildReconfigure(absl::string_view config_table_json, absl::Time now);

// The `name` of a plugin row, as config_table.plugins and basic_info.plugins list them; nullopt
// when the row is not an object with a string name.
std::optional<std::string> PluginRowName(const rapidjson::Value& row);

}  // namespace tether::protocol

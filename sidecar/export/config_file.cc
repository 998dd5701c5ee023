// The --write-config file (see config_file.h).
#include "sidecar/export/config_file.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "protocol/config_table_json.h"
#include "sidecar/common/file_util.h"
#include "sidecar/export/yaml.h"

namespace tether::exporter {

FileFormat FormatForPath(absl::string_view path) {
  return absl::EndsWith(path, ".yaml") || absl::EndsWith(path, ".yml") ? FileFormat::kYaml
                                                                       : FileFormat::kJson;
}

absl::StatusOr<std::string> RenderConfig(const config::Snapshot& snapshot,
                                         const std::set<std::string>& types, FileFormat format) {
  protocol::ConfigTableView table;
  for (const auto& [key, json] : snapshot.metadata) table.metadata.emplace_back(key, json);
  for (const auto& [type, collection] : snapshot.types) {
    if (!types.empty() && !types.contains(type)) continue;
    protocol::ConfigTableView::Rows& rows =
        table.types.emplace_back(type, protocol::ConfigTableView::Rows{}).second;
    rows.reserve(collection->items.size());
    for (const config::Entity& e : collection->items) rows.emplace_back(e.id, e.json);
  }
  rapidjson::StringBuffer buffer;
  protocol::JsonWriter writer(buffer);
  writer.SetIndent(' ', 2);
  // The decoder checked every row and metadata value when it built the snapshot.
  if (absl::Status st = WriteConfigTable(table, protocol::ValueForm::kVerbatim, writer); !st.ok()) {
    return st;
  }
  const absl::string_view json(buffer.GetString(), buffer.GetSize());
  if (format == FileFormat::kYaml) return JsonToYaml(json);
  return absl::StrCat(json, "\n");
}

absl::Status WriteConfigFile(const std::string& path, const config::Snapshot& snapshot,
                             const std::set<std::string>& types) {
  absl::StatusOr<std::string> text = RenderConfig(snapshot, types, FormatForPath(path));
  if (!text.ok()) return text.status();
  return WriteFileAtomically(path, *text, 0600);
}

}  // namespace tether::exporter

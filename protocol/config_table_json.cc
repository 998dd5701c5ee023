// Kong's flat config_table as JSON (see config_table_json.h).
#include "protocol/config_table_json.h"

#include "absl/strings/str_cat.h"
#include "rapidjson/document.h"

namespace tether::protocol {
namespace {

bool Key(JsonWriter& writer, absl::string_view key) {
  return writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()), true);
}

// False when a reformatted value is not JSON.
bool Value(absl::string_view json, ValueForm form, JsonWriter& writer) {
  if (form == ValueForm::kVerbatim) {
    // The type only decides PrettyWriter's line breaks; kObjectType suits entities and
    // metadata alike.
    return writer.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  }
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  return !doc.HasParseError() && doc.Accept(writer);
}

}  // namespace

absl::Status WriteConfigTable(const ConfigTableView& table, ValueForm form, JsonWriter& writer) {
  writer.StartObject();
  for (const auto& [key, json] : table.metadata) {
    Key(writer, key);
    if (!Value(json, form, writer)) {
      return absl::DataLossError(absl::StrCat("metadata ", key, " is not JSON"));
    }
  }
  for (const auto& [type, rows] : table.types) {
    Key(writer, type);
    writer.StartArray();
    for (const auto& [id, json] : rows) {
      if (!Value(json, form, writer)) {
        return absl::DataLossError(absl::StrCat("entity ", type, "/", id, " is not JSON"));
      }
    }
    writer.EndArray();
  }
  writer.EndObject();
  return absl::OkStatus();
}

}  // namespace tether::protocol

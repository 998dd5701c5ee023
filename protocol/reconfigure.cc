// See reconfigure.h.
#include "protocol/reconfigure.h"

#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "protocol/kong_hash.h"
#include "rapidjson/error/en.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tether::protocol {

std::optional<std::string> PluginRowName(const rapidjson::Value& row) {
  if (!row.IsObject()) return std::nullopt;
  auto name = row.FindMember("name");
  if (name == row.MemberEnd() || !name->value.IsString()) return std::nullopt;
  return std::string(name->value.GetString(), name->value.GetStringLength());
}

absl::StatusOr<Reconfigure> BuildReconfigure(absl::string_view config_table_json, absl::Time now) {
  rapidjson::Document config;
  // Full precision so that numbers survive the parse and re-serialisation unchanged.
  config.Parse<rapidjson::kParseFullPrecisionFlag>(config_table_json.data(),
                                                   config_table_json.size());
  if (config.HasParseError()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config_table is not JSON: ", rapidjson::GetParseError_En(config.GetParseError()),
        " at offset ", config.GetErrorOffset()));
  }
  if (!config.IsObject()) {
    return absl::InvalidArgumentError("config_table is not a JSON object");
  }
  Reconfigure out;
  const ConfigHashes hashes = CalculateConfigHash(config);
  out.config_hash = hashes.config_hash;

  std::set<std::string> plugin_names;
  auto plugins = config.FindMember("plugins");
  if (plugins != config.MemberEnd() && plugins->value.IsArray()) {
    for (const rapidjson::Value& row : plugins->value.GetArray()) {
      if (std::optional<std::string> name = PluginRowName(row)) plugin_names.insert(*name);
    }
  }
  out.configured_plugins.assign(plugin_names.begin(), plugin_names.end());

  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("type");
  writer.String("reconfigure");
  writer.Key("timestamp");
  // ngx.now(): float seconds with millisecond resolution (§3.2).
  writer.Double(static_cast<double>(absl::ToUnixMillis(now)) / 1000.0);
  writer.Key("config_table");
  config.Accept(writer);
  writer.Key("config_hash");
  writer.String(out.config_hash.data(), out.config_hash.size());
  writer.Key("hashes");
  writer.StartObject();
  for (const auto& [key, value] : hashes.hashes) {
    writer.Key(key.data(), key.size());
    writer.String(value.data(), value.size());
  }
  writer.EndObject();
  writer.EndObject();
  out.message_json.assign(buffer.GetString(), buffer.GetSize());
  return out;
}

}  // namespace tether::protocol

#include "sidecar/cp/basic_info.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace tether::cp {

std::string BuildBasicInfo(std::vector<PluginInfo> plugins,
                           const std::map<std::string, std::string>& labels) {
  std::stable_sort(plugins.begin(), plugins.end(), [](const PluginInfo& a, const PluginInfo& b) {
    return absl::AsciiStrToLower(a.name) < absl::AsciiStrToLower(b.name);
  });
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  w.StartObject();
  w.Key("type");
  w.String("basic_info");
  w.Key("plugins");
  w.StartArray();
  for (const PluginInfo& p : plugins) {
    w.StartObject();
    w.Key("name");
    w.String(p.name.data(), p.name.size());
    if (!p.version.empty()) {
      w.Key("version");
      w.String(p.version.data(), p.version.size());
    }
    w.EndObject();
  }
  w.EndArray();
  // §2: wasm filters keyed by name; tether loads none.
  w.Key("filters");
  w.StartObject();
  w.EndObject();
  if (!labels.empty()) {
    w.Key("labels");
    w.StartObject();
    for (const auto& [k, v] : labels) {
      w.Key(k.data(), k.size());
      w.String(v.data(), v.size());
    }
    w.EndObject();
  }
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace tether::cp

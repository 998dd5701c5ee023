// The `basic_info` message a data plane sends first on every connection (kong-protocol.md §2).
//
// Threading: pure functions, thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace tether::cp {

struct PluginInfo {
  std::string name;
  std::string version;  // empty: Kong sends just the name for a plugin without a version
};

// Compact JSON: {"type":"basic_info","plugins":[...],"filters":{},"labels":{...}}. Plugins are
// sorted by lowercase name as Kong sends them; `labels` is present only when non-empty.
std::string BuildBasicInfo(std::vector<PluginInfo> plugins,
                           const std::map<std::string, std::string>& labels);

}  // namespace tether::cp

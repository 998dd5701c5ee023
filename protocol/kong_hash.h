// Kong's config hash (kong-protocol.md §3.5, `calculate_config_hash`), computed over a RapidJSON
// value. The sidecar uses it when a reconfigure message carries no config_hash (Kong 2.x) and
// to hash entity types Kong does not hash; tether-devcp uses it to stamp the configs it pushes.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace tether::protocol {

// md5 hex of Kong's serialisation of `value`; absent sections hash to 32 zeros at the caller.
std::string KongHashValue(const rapidjson::Value& value);

struct ConfigHashes {
  // config_hash as the CP would send it; equals hashes["config"] for object inputs.
  std::string config_hash;
  // {config, routes, services, plugins, upstreams, targets}; a missing section is 32 zeros.
  // Empty when `config_table` is not an object.
  std::map<std::string, std::string> hashes;
};

// `calculate_config_hash(config_table)`, including the section split for object inputs and the
// plain value hash for any other input (the test vectors hash scalars too).
ConfigHashes CalculateConfigHash(const rapidjson::Value& config_table);

}  // namespace tether::protocol

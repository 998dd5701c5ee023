// Kong's config hash (kong-protocol.md §3.5, `calculate_config_hash`), computed over a RapidJSON
// value. The sidecar uses it when a reconfigure message carries no config_hash (Kong 2.x) and
// to hash entity types Kong does not hash; tether-devcp uses it to stamp the configs it pushes.
//
// The walk recurses once per nesting level, so callers feeding untrusted JSON cap its depth first
// (the decoder does). A key repeated within one object counts once, with its last value, as in
// the Lua table cjson would build.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace tether::protocol {

// md5 hex of Kong's serialisation of `value`; absent sections hash to 32 zeros at the caller.
std::string KongHashValue(const rapidjson::Value& value);

// The raw 16-byte md5 that KongHashValue hex-encodes: cheaper than hex to compare (the delta
// compares rows by it).
std::array<uint8_t, 16> KongDigest(const rapidjson::Value& value);

// KongHashValue of an array, fed one element at a time, for callers that never hold the whole
// array as one value (the decoder parses a collection one row at a time). Kong's serialisation
// of an array changes past five elements, hence `long_array` (more than five) up front.
class KongArrayHasher {
 public:
  explicit KongArrayHasher(bool long_array);
  ~KongArrayHasher();
  KongArrayHasher(const KongArrayHasher&) = delete;
  KongArrayHasher& operator=(const KongArrayHasher&) = delete;

  // The elements in order: more than five of them exactly when `long_array`.
  void Add(const rapidjson::Value& element);
  // md5 hex, as KongHashValue of the array. Once.
  std::string Finish();

  // Kong's to_sorted_string, defined in kong_hash.cc, where every hash here uses it.
  class Serializer;

 private:
  std::unique_ptr<Serializer> serializer_;
  const bool long_array_;
  size_t added_ = 0;
};

struct ConfigHashes {
  // config_hash as the CP would send it; equals hashes["config"] for object inputs.
  std::string config_hash;
  // {config, routes, services, plugins, upstreams, targets}; a missing section is 32 zeros.
  // Empty when `config_table` is a scalar (not an object or array).
  std::map<std::string, std::string> hashes;
};

// `calculate_config_hash(config_table)`, including the section split for object inputs and the
// plain value hash for scalars (the test vectors hash scalars too). An array is a Lua table to
// Kong, so it takes the table path: no sections (all 32 zeros) and the array as the "rest".
ConfigHashes CalculateConfigHash(const rapidjson::Value& config_table);

}  // namespace tether::protocol

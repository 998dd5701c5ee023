// libFuzzer harness: Kong's config hash (protocol/kong_hash.h) over any JSON value parsed from the
// input; inputs that are not JSON, or nest deeper than the decoder allows, are skipped.
//
// Besides never crashing, the hash must keep its documented shape, and it must not depend on the
// order of an object's keys (Kong sorts them), which the harness checks by reversing every object.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "protocol/constants.h"
#include "protocol/kong_hash.h"
#include "rapidjson/document.h"
#include "rapidjson/reader.h"
#include "tests/fuzz/fuzz_check.h"

namespace tether::fuzz {
namespace {

// The decoder's cap (config::DecodeLimits): KongHashValue recurses once per level, so its callers
// cap the depth first.
constexpr int kMaxDepth = 128;

// Iterative, so the parse itself never recurses. Not kParseFullPrecisionFlag: its strtod in
// RapidJSON 1.1.0 calls clz(0) on a long run of zero digits (undefined behaviour in the library,
// not in the hash), and the decoder converts numbers itself (kParseNumbersAsStringsFlag).
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag;

// Counts nesting during a first SAX pass, so the tree is only built for inputs within the cap.
struct DepthCheck : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, DepthCheck> {
  int depth = 0;
  bool Default() { return true; }
  bool StartObject() { return ++depth <= kMaxDepth; }
  bool EndObject(rapidjson::SizeType) {
    --depth;
    return true;
  }
  bool StartArray() { return ++depth <= kMaxDepth; }
  bool EndArray(rapidjson::SizeType) {
    --depth;
    return true;
  }
};

// Whether some object below `value` repeats a key. Kong keeps the last value of a repeated key, so
// reversing such an object changes what it means.
bool HasRepeatedKey(const rapidjson::Value& value) {
  if (value.IsArray()) {
    for (const rapidjson::Value& item : value.GetArray()) {
      if (HasRepeatedKey(item)) return true;
    }
  }
  if (!value.IsObject()) return false;
  absl::flat_hash_set<absl::string_view> keys;
  for (const auto& member : value.GetObject()) {
    if (!keys.emplace(member.name.GetString(), member.name.GetStringLength()).second) return true;
    if (HasRepeatedKey(member.value)) return true;
  }
  return false;
}

// `value` with the members of every object in reverse order.
void ReverseObjects(rapidjson::Value& value, rapidjson::Document::AllocatorType& allocator) {
  if (value.IsArray()) {
    for (rapidjson::Value& item : value.GetArray()) ReverseObjects(item, allocator);
    return;
  }
  if (!value.IsObject()) return;
  rapidjson::Value reversed(rapidjson::kObjectType);
  for (rapidjson::SizeType i = value.MemberCount(); i > 0; --i) {
    auto& member = value.MemberBegin()[i - 1];
    ReverseObjects(member.value, allocator);
    reversed.AddMember(std::move(member.name), std::move(member.value), allocator);
  }
  value = std::move(reversed);
}

void CheckHashes(const rapidjson::Value& value, const protocol::ConfigHashes& hashes) {
  Require(IsHash(hashes.config_hash), "config_hash is not 32 lowercase hex chars");
  if (!value.IsObject() && !value.IsArray()) {
    Require(hashes.hashes.empty(), "a scalar has section hashes");
    Require(hashes.config_hash == protocol::KongHashValue(value), "scalar hash is not its value's");
    return;
  }
  Require(hashes.hashes.size() == 1 + std::size(protocol::kHashedSections),
          "want hashes for config and the kong sections");
  for (const auto& [name, hash] : hashes.hashes) Require(IsHash(hash), "section hash not hex");
  const auto config = hashes.hashes.find("config");
  Require(config != hashes.hashes.end() && config->second == hashes.config_hash,
          "hashes[config] is not config_hash");
  if (value.IsArray()) {
    for (absl::string_view section : protocol::kHashedSections) {
      Require(hashes.hashes.at(std::string(section)) == protocol::kEmptyConfigHash,
              "an array has a section hash");
    }
  }
}

}  // namespace
}  // namespace tether::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether;
  using tether::fuzz::Require;
  const std::string json(reinterpret_cast<const char*>(data), size);
  // The parse below reads a NUL-terminated string; an embedded NUL would hide the rest.
  if (json.find('\0') != std::string::npos) return 0;
  {
    fuzz::DepthCheck depth;
    rapidjson::Reader reader;
    rapidjson::StringStream stream(json.c_str());
    if (reader.Parse<fuzz::kParseFlags>(stream, depth).IsError()) return 0;
  }
  rapidjson::Document document;
  document.Parse<fuzz::kParseFlags>(json.c_str());
  // The SAX pass above accepted it; the DOM parse must agree.
  Require(!document.HasParseError(), "dom parse failed after the sax parse passed");

  const protocol::ConfigHashes hashes = protocol::CalculateConfigHash(document);
  fuzz::CheckHashes(document, hashes);
  const std::string value_hash = protocol::KongHashValue(document);
  const std::array<uint8_t, 16> digest = protocol::KongDigest(document);
  Require(value_hash == absl::BytesToHexString(absl::string_view(
                            reinterpret_cast<const char*>(digest.data()), digest.size())),
          "KongHashValue is not the hex of KongDigest");

  if (fuzz::HasRepeatedKey(document)) return 0;
  fuzz::ReverseObjects(document, document.GetAllocator());
  Require(protocol::KongHashValue(document) == value_hash, "hash depends on key order");
  Require(protocol::CalculateConfigHash(document).hashes == hashes.hashes,
          "section hashes depend on key order");
  return 0;
}

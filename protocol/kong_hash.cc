#include "protocol/kong_hash.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "protocol/constants.h"

namespace tether::protocol {
namespace {

using Digest = std::array<uint8_t, 16>;
using Member = rapidjson::Value::Member;

// config_helper.lua, to_sorted_string: before each value is written, a buffer longer than this
// is replaced by its raw 16-byte md5 (kong-protocol.md §3.5).
constexpr size_t kMaxBufferBytes = 1000000;

// Integers below this magnitude have at most 14 digits, so `%.14g` prints them exactly, without
// an exponent and without ".0". Printing them directly skips the general formatter.
constexpr double kExactIntegerLimit = 1e14;

// Fetched once: OpenSSL 3 resolves a bare EVP_md5() again on every digest, and the decoder takes
// one digest per entity.
const EVP_MD* Md5() {
  static const EVP_MD* const md = []() -> const EVP_MD* {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "MD5", nullptr);
    return fetched != nullptr ? fetched : EVP_md5();
  }();
  return md;
}

Digest Md5Digest(absl::string_view data) {
  Digest out;
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &length, Md5(), nullptr) != 1 ||
      length != out.size()) {
    // Only an OpenSSL restricted to FIPS algorithms lacks MD5; Kong's hash cannot exist there,
    // and these functions have no error channel, so this is a broken environment, not bad input.
    std::fprintf(stderr, "tether: fatal: openssl md5 digest unavailable\n");
    std::abort();
  }
  return out;
}

std::string Hex(const Digest& digest) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

absl::string_view Name(const Member& member) {
  return absl::string_view(member.name.GetString(), member.name.GetStringLength());
}

// The last member named `key`: with repeated keys, the Lua table keeps the last value.
const rapidjson::Value* FindLastMember(const rapidjson::Value& object, absl::string_view key) {
  const rapidjson::Value* found = nullptr;
  for (const Member& member : object.GetObject()) {
    if (Name(member) == key) found = &member.value;
  }
  return found;
}

}  // namespace

// Kong's to_sorted_string over a LuaJIT string.buffer, byte for byte.
class KongArrayHasher::Serializer {
 public:
  // to_sorted_string(value, o).
  void Append(const rapidjson::Value& value) {
    CompactIfLong();
    switch (value.GetType()) {
      case rapidjson::kNullType:
        buffer_.append("/null/");
        break;
      case rapidjson::kFalseType:
        buffer_.append("false");
        break;
      case rapidjson::kTrueType:
        buffer_.append("true");
        break;
      case rapidjson::kStringType:
        buffer_.append(value.GetString(), value.GetStringLength());
        break;
      case rapidjson::kNumberType:
        AppendNumber(value);
        break;
      case rapidjson::kArrayType:
        AppendArray(value);
        break;
      case rapidjson::kObjectType:
        AppendObject(value, /*skip_hashed_sections=*/false);
        break;
    }
  }

  // calculate_config_hash's "rest": the table with Kong's hashed sections removed.
  void AppendRest(const rapidjson::Value& object) {
    CompactIfLong();
    AppendObject(object, /*skip_hashed_sections=*/true);
  }

  Digest Finish() const { return Md5Digest(buffer_); }

  // Element `i` of an array, `long_array` when it has more than five elements.
  void AppendElement(size_t i, bool long_array, const rapidjson::Value& element) {
    // Kong unrolls arrays of up to 5 elements with ';' between them, and for longer ones puts a
    // ';' after every element, the last one included. The hash depends on this quirk.
    if (!long_array && i > 0) buffer_.push_back(';');
    Append(element);
    if (long_array) buffer_.push_back(';');
  }

 private:
  void CompactIfLong() {
    if (buffer_.size() > kMaxBufferBytes) {
      const Digest digest = Md5Digest(buffer_);
      buffer_.assign(reinterpret_cast<const char*>(digest.data()), digest.size());
    }
  }

  // string.buffer:put(number) formats with LuaJIT's "%.14g" (tostring): 10 -> "10", 0.9 -> "0.9",
  // 1e20 -> "1e+20", -0 -> "-0". Lua numbers are doubles, so integers beyond 2^53 lose digits
  // exactly as they would in Kong.
  void AppendNumber(const rapidjson::Value& value) {
    if (value.IsInt64()) {
      const int64_t i = value.GetInt64();
      if (i > -kExactIntegerLimit && i < kExactIntegerLimit) {
        absl::StrAppend(&buffer_, i);
        return;
      }
    }
    const double d = value.GetDouble();
    if (std::fabs(d) < kExactIntegerLimit && d == std::trunc(d) && !(d == 0 && std::signbit(d))) {
      absl::StrAppend(&buffer_, static_cast<int64_t>(d));
      return;
    }
    // std::to_chars with a precision is specified to match printf's "%.14g".
    char text[32];
    const std::to_chars_result result =
        std::to_chars(text, text + sizeof(text), d, std::chars_format::general, 14);
    buffer_.append(text, result.ptr);
  }

  void AppendArray(const rapidjson::Value& array) {
    const rapidjson::SizeType count = array.Size();
    if (count == 0) {
      buffer_.append("{}");
      return;
    }
    for (rapidjson::SizeType i = 0; i < count; ++i) AppendElement(i, count > 5, array[i]);
  }

  void AppendObject(const rapidjson::Value& object, bool skip_hashed_sections) {
    // Members are sorted in one stack shared by all nesting levels and addressed by index, so a
    // nested object reuses the capacity instead of allocating.
    const size_t begin = members_.size();
    for (const Member& member : object.GetObject()) {
      if (skip_hashed_sections && IsHashedSection(Name(member))) continue;
      members_.push_back(&member);
    }
    const size_t end = members_.size();
    if (begin == end) {
      buffer_.append("{}");
      return;
    }
    // Bytewise key order, as LuaJIT compares strings; ties keep document order so the last of a
    // repeated key comes last.
    std::sort(members_.begin() + begin, members_.begin() + end,
              [](const Member* a, const Member* b) {
                const int c = Name(*a).compare(Name(*b));
                return c != 0 ? c < 0 : a < b;
              });
    for (size_t i = begin; i < end; ++i) {
      const Member* member = members_[i];
      if (i + 1 < end && Name(*members_[i + 1]) == Name(*member)) continue;
      const absl::string_view name = Name(*member);
      buffer_.append(name.data(), name.size());
      buffer_.push_back(':');
      Append(member->value);
      buffer_.push_back(';');
    }
    members_.resize(begin);
  }

  std::string buffer_;
  std::vector<const Member*> members_;
};

namespace {
using Serializer = KongArrayHasher::Serializer;
}  // namespace

KongArrayHasher::KongArrayHasher(bool long_array)
    : serializer_(std::make_unique<Serializer>()), long_array_(long_array) {}

KongArrayHasher::~KongArrayHasher() = default;

void KongArrayHasher::Add(const rapidjson::Value& element) {
  serializer_->AppendElement(added_++, long_array_, element);
}

std::string KongArrayHasher::Finish() {
  // An empty array is written whole by Append, which this matches: "{}" into an empty buffer.
  if (added_ == 0) {
    const rapidjson::Value empty(rapidjson::kArrayType);
    serializer_->Append(empty);
  }
  return Hex(serializer_->Finish());
}

std::array<uint8_t, 16> KongDigest(const rapidjson::Value& value) {
  Serializer serializer;
  serializer.Append(value);
  return serializer.Finish();
}

std::string KongHashValue(const rapidjson::Value& value) { return Hex(KongDigest(value)); }

ConfigHashes CalculateConfigHash(const rapidjson::Value& config_table) {
  ConfigHashes result;
  if (!config_table.IsObject() && !config_table.IsArray()) {
    result.config_hash = KongHashValue(config_table);
    return result;
  }
  std::string concatenated;
  for (absl::string_view section : kHashedSections) {
    const rapidjson::Value* value =
        config_table.IsObject() ? FindLastMember(config_table, section) : nullptr;
    std::string hash = value != nullptr ? KongHashValue(*value) : std::string(kEmptyConfigHash);
    concatenated.append(hash);
    result.hashes.emplace(std::string(section), std::move(hash));
  }
  Serializer rest;
  if (config_table.IsObject()) {
    rest.AppendRest(config_table);
  } else {
    rest.Append(config_table);
  }
  concatenated.append(Hex(rest.Finish()));
  result.config_hash = Hex(Md5Digest(concatenated));
  result.hashes.emplace("config", result.config_hash);
  return result;
}

}  // namespace tether::protocol

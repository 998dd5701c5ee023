#include "sidecar/config/compact_json.h"

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "absl/strings/string_view.h"
#include "rapidjson/internal/dtoa.h"

namespace tether::config {
namespace {

// rapidjson::Writer's escape table (writer.h, WriteString): the character after the backslash,
// 'u' for \u00XX, 0 for a byte copied as it is (UTF-8 included).
constexpr char kEscape[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f',  'r', 'u', 'u',  // 00
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',  'u', 'u', 'u',  // 10
    0,   0,   '"', 0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,    // 20
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,    // 30
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,    0,   0,   0,    // 40
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   '\\', 0,   0,   0,    // 50
};
constexpr char kHexDigits[] = "0123456789ABCDEF";

constexpr uint64_t kOnes = 0x0101010101010101;
constexpr uint64_t kHighBits = 0x8080808080808080;

// Whether any of the eight bytes in `word` may need an escape: below 0x20, '"' or '\\'. May say
// yes for a word that needs none (the byte loop then finds nothing), never no for one that does.
bool MayNeedEscape(uint64_t word) {
  const auto has_zero_byte = [](uint64_t v) { return (v - kOnes) & ~v & kHighBits; };
  const uint64_t below_space = (word - 0x20 * kOnes) & ~word & kHighBits;
  return (below_space | has_zero_byte(word ^ ('"' * kOnes)) |
          has_zero_byte(word ^ ('\\' * kOnes))) != 0;
}

void Append(absl::string_view text, rapidjson::StringBuffer& out) {
  std::memcpy(out.Push(text.size()), text.data(), text.size());
}

void AppendString(const char* text, size_t length, rapidjson::StringBuffer& out) {
  // Room for the worst case (every byte a \u00XX escape), given back at the end: no capacity
  // check per byte.
  const size_t room = 2 + 6 * length;
  char* const start = out.Push(room);
  char* p = start;
  *p++ = '"';
  size_t copied = 0;  // text[copied, i) is pending, unescaped
  size_t i = 0;
  while (i < length) {
    if (length - i >= 8) {
      uint64_t word;
      std::memcpy(&word, text + i, 8);
      if (!MayNeedEscape(word)) {
        i += 8;
        continue;
      }
    }
    const auto byte = static_cast<unsigned char>(text[i]);
    const char escape = kEscape[byte];
    if (escape != 0) {
      std::memcpy(p, text + copied, i - copied);
      p += i - copied;
      *p++ = '\\';
      *p++ = escape;
      if (escape == 'u') {
        *p++ = '0';
        *p++ = '0';
        *p++ = kHexDigits[byte >> 4];
        *p++ = kHexDigits[byte & 0xF];
      }
      copied = i + 1;
    }
    ++i;
  }
  std::memcpy(p, text + copied, length - copied);
  p += length - copied;
  *p++ = '"';
  out.Pop(room - static_cast<size_t>(p - start));
}

template <typename Integer>
void AppendInteger(Integer value, rapidjson::StringBuffer& out) {
  char digits[24];
  const std::to_chars_result result = std::to_chars(digits, digits + sizeof(digits), value);
  Append(absl::string_view(digits, static_cast<size_t>(result.ptr - digits)), out);
}

void AppendDouble(double value, rapidjson::StringBuffer& out) {
  // What Writer::WriteDouble writes: RapidJSON's shortest round-trip form ("0.1", "1e20",
  // "100.0", "-0.0") with its default of 324 decimal places.
  char digits[32];
  const char* end = rapidjson::internal::dtoa(value, digits, 324);
  Append(absl::string_view(digits, static_cast<size_t>(end - digits)), out);
}

}  // namespace

void AppendCompactJson(const rapidjson::Value& value, rapidjson::StringBuffer& out) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      Append("null", out);
      return;
    case rapidjson::kFalseType:
      Append("false", out);
      return;
    case rapidjson::kTrueType:
      Append("true", out);
      return;
    case rapidjson::kStringType:
      AppendString(value.GetString(), value.GetStringLength(), out);
      return;
    case rapidjson::kNumberType:
      // The order of rapidjson::GenericValue::Accept, which picks the Writer call.
      if (value.IsDouble()) {
        assert(std::isfinite(value.GetDouble()));
        AppendDouble(value.GetDouble(), out);
      } else if (value.IsInt64()) {
        AppendInteger(value.GetInt64(), out);
      } else {
        AppendInteger(value.GetUint64(), out);
      }
      return;
    case rapidjson::kArrayType: {
      out.Put('[');
      bool first = true;
      for (const rapidjson::Value& element : value.GetArray()) {
        if (!first) out.Put(',');
        first = false;
        AppendCompactJson(element, out);
      }
      out.Put(']');
      return;
    }
    case rapidjson::kObjectType: {
      out.Put('{');
      bool first = true;
      for (const auto& member : value.GetObject()) {
        if (!first) out.Put(',');
        first = false;
        AppendString(member.name.GetString(), member.name.GetStringLength(), out);
        out.Put(':');
        AppendCompactJson(member.value, out);
      }
      out.Put('}');
      return;
    }
  }
}

}  // namespace tether::config

#include "sidecar/config/json_parse.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/charconv.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "rapidjson/error/en.h"
#include "rapidjson/reader.h"

namespace tether::config {
namespace {

// The offset of the first byte of `text` that is a NUL or does not begin a well-formed UTF-8
// sequence (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or text.size()
// when there is none. Sixteen bytes at a time while they are ASCII without NUL, which Kong
// configs nearly are.
size_t FirstInvalidByte(absl::string_view text) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHighBits = 0x8080808080808080;
  // Non-zero when a byte of `v` is zero, or (harmlessly: the byte loop decides) at least 0x80.
  const auto zero_or_high = [](uint64_t v) { return (v - kOnes) | v; };
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    if (size - i >= 16) {
      uint64_t a;
      uint64_t b;
      std::memcpy(&a, bytes + i, 8);
      std::memcpy(&b, bytes + i + 8, 8);
      if (((zero_or_high(a) | zero_or_high(b)) & kHighBits) == 0) {
        i += 16;
        continue;
      }
    }
    const unsigned char lead = bytes[i];
    if (lead == 0) return i;
    if (lead < 0x80) {
      ++i;
      continue;
    }
    // The sequence length, and the range of its second byte that excludes overlong forms,
    // surrogates (ED A0..BF) and code points past U+10FFFF (F4 90..).
    size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      return i;
    }
    if (size - i < length || bytes[i + 1] < low || bytes[i + 1] > high) return i;
    for (size_t k = 2; k < length; ++k) {
      if (bytes[i + k] < 0x80 || bytes[i + k] > 0xBF) return i;
    }
    i += length;
  }
  return size;
}

}  // namespace

JsonNumber ReadJsonNumber(absl::string_view text) {
  JsonNumber number;
  // Most numbers in a config are integers (timestamps, ports, counts): up to 18 digits they fit
  // an int64 exactly, and are read here without a library call.
  const char* const end = text.data() + text.size();
  const bool negative = text.front() == '-';
  const char* const digits = text.data() + (negative ? 1 : 0);
  if (end - digits <= 18) {
    int64_t value = 0;
    const char* p = digits;
    for (; p < end && *p >= '0' && *p <= '9'; ++p) value = value * 10 + (*p - '0');
    if (p == end) {
      if (negative && value == 0) {
        number.kind = JsonNumber::Kind::kDouble;
        number.d = -0.0;
      } else {
        number.kind = JsonNumber::Kind::kInt64;
        number.i = negative ? -value : value;
      }
      return number;
    }
  }
  if (text.find_first_of(".eE") == absl::string_view::npos) {
    if (absl::SimpleAtoi(text, &number.i)) {
      number.kind = JsonNumber::Kind::kInt64;
      return number;
    }
    if (absl::SimpleAtoi(text, &number.u)) {
      number.kind = JsonNumber::Kind::kUint64;
      return number;
    }
    // Integers beyond 64 bits become doubles, as they are in Lua.
  }
  const absl::from_chars_result result = absl::from_chars(text.data(), end, number.d);
  // Underflow rounds to (signed) zero, as strtod does in Kong's cjson.
  const bool underflow = result.ec == std::errc::result_out_of_range && number.d == 0;
  if (underflow || (result.ec == std::errc() && result.ptr == end)) {
    number.kind = JsonNumber::Kind::kDouble;
  }
  return number;
}

// The raw bytes were validated (ValidateJsonPiece), so an ED followed by A0 or above can only come
// from an escape. Served entity JSON, and the ids and type names that go into proto string
// fields, must be UTF-8 (a client's protobuf refuses the whole update otherwise), and Kong's
// simdjson refuses such escapes too.
bool DecodedStringIsUtf8(const char* text, size_t length) {
  const char* const end = text + length;
  const char* p = text;
  // Short strings (most keys and values) are checked inline; a library call costs more.
  if (length < 32) {
    for (; p + 1 < end; ++p) {
      if (*p == '\xED' && static_cast<unsigned char>(p[1]) >= 0xA0) return false;
    }
    return true;
  }
  while ((p = static_cast<const char*>(std::memchr(p, '\xED', end - p))) != nullptr) {
    if (++p < end && static_cast<unsigned char>(*p) >= 0xA0) return false;
  }
  return true;
}

std::string Quote(absl::string_view text) {
  if (text.size() <= kMaxQuotedBytes) return absl::StrCat("\"", absl::CHexEscape(text), "\"");
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxQuotedBytes)), "\"...");
}

std::string PathKey(absl::string_view key) {
  const bool plain = !key.empty() && key.size() <= kMaxQuotedBytes &&
                     std::all_of(key.begin(), key.end(), [](char c) {
                       return absl::ascii_isalnum(c) || c == '_' || c == '-';
                     });
  return plain ? std::string(key) : Quote(key);
}

absl::Status ValidateJsonPiece(absl::string_view piece, size_t offset, bool last, size_t& checked) {
  checked = FirstInvalidByte(piece);
  if (checked == piece.size()) return absl::OkStatus();
  // A bad byte this near the end may start a sequence the next piece completes.
  if (!last && piece.size() - checked < 4) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid json at offset ", offset + checked,
                   piece[checked] == '\0' ? ": nul byte outside a string" : ": invalid utf-8"));
}

absl::Status CheckJsonTextEnd(absl::string_view last_bytes, size_t offset) {
  // RapidJSON 1.1.0 validates a multi-byte UTF-8 sequence by taking its continuation bytes without
  // looking for the end, so a lead byte (C0 or above) in the last two bytes makes the parse read
  // up to two bytes past the terminating NUL. JSON text never ends that way (the string holding
  // the sequence would still be open), so such a text is refused before the parser gets there.
  for (size_t i = 0; i < last_bytes.size(); ++i) {
    if (static_cast<unsigned char>(last_bytes[i]) >= 0xC0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid json at offset ", offset + i,
                                                     ": utf-8 sequence cut off by the end"));
    }
  }
  return absl::OkStatus();
}

absl::Status JsonParseStatus(const rapidjson::ParseResult& result, JsonFailure failure,
                             int max_depth) {
  if (!result.IsError()) return absl::OkStatus();
  switch (failure) {
    case JsonFailure::kTooDeep:
      return absl::ResourceExhaustedError(absl::StrCat("invalid json at offset ", result.Offset(),
                                                       ": nested deeper than ", max_depth));
    case JsonFailure::kNumberTooBig:
      return absl::InvalidArgumentError(
          absl::StrCat("invalid json at offset ", result.Offset(), ": number too big"));
    case JsonFailure::kLoneSurrogate:
      return absl::InvalidArgumentError(absl::StrCat("invalid json at offset ", result.Offset(),
                                                     ": \\u escape of a lone low surrogate"));
    case JsonFailure::kNone:
      break;
  }
  // RapidJSON's English messages are capitalised and end in a period; ours are not and do not.
  std::string reason = rapidjson::GetParseError_En(result.Code());
  if (!reason.empty() && reason.back() == '.') reason.pop_back();
  if (!reason.empty()) reason[0] = absl::ascii_tolower(reason[0]);
  return absl::InvalidArgumentError(
      absl::StrCat("invalid json at offset ", result.Offset(), ": ", reason));
}

absl::StatusOr<const rapidjson::Value*> RowParser::Parse(absl::string_view json) {
  // The old tree goes before the next parse reuses its memory.
  document_.SetNull();
  allocator_.Clear();
  stack_allocator_.Clear();
  rapidjson::ParseResult result;
  JsonFailure failure = JsonFailure::kNone;
  size_t end = 0;
  auto generate = [&](decltype(document_)& target) {
    // Reads only as far as the value's end, which is within `json` for text that parsed before.
    rapidjson::StringStream stream(json.data());
    KongJsonEvents<decltype(document_)> events(target, max_depth_);
    result = rapidjson::Reader().Parse<kParseJsonFlags | rapidjson::kParseStopWhenDoneFlag>(stream,
                                                                                            events);
    failure = events.failure();
    end = stream.Tell();
    return !result.IsError();
  };
  document_.Populate(generate);
  if (absl::Status status = JsonParseStatus(result, failure, max_depth_); !status.ok()) {
    return status;
  }
  if (end != json.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid json at offset ", end, ": not the end of the value"));
  }
  return &document_;
}

}  // namespace tether::config

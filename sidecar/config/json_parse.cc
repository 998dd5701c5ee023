#include "sidecar/config/json_parse.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/charconv.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "rapidjson/error/en.h"
#include "rapidjson/reader.h"

namespace tether::config {
namespace {

using rapidjson::SizeType;

// Parse flags:
// - insitu: strings are decoded into the inflated buffer itself instead of being copied;
// - recursive (RapidJSON's default, about a tenth faster than kParseIterativeFlag here): one C++
//   call level per nesting level, bounded because CappedDocumentBuilder refuses a level past
//   max_depth before the parser descends into it;
// - numbers as strings: numbers reach CappedDocumentBuilder as text, which converts them so that
//   "-0" stays a negative zero and doubles round exactly (Kong's cjson uses strtod).
// No kParseValidateEncodingFlag: ParseJsonInSitu validates the whole buffer first
// (FirstInvalidByte).
constexpr unsigned kParseFlags =
    rapidjson::kParseInsituFlag | rapidjson::kParseNumbersAsStringsFlag;

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

// A RapidJSON SAX handler that builds `document` and stops the parse when nesting passes
// `max_depth`, before the tree exists, so nothing that walks it later (writer, hash) can recurse
// deeper than that.
//
// With `rows`, it also notes where each row is in the text (json_parse.h), so that the decoder can
// serve those bytes as they are rather than write every row out again. With duplicate
// config_table keys the last one counts (the decoder's FindLastMember), so each starts afresh.
class CappedDocumentBuilder {
 public:
  enum class Failure { kNone, kTooDeep, kNumberTooBig, kLoneSurrogate };

  // Depths, counting the container being entered: the message is 1, config_table 2, a collection
  // 3 and a row 4.
  static constexpr int kConfigTableDepth = 2;
  static constexpr int kCollectionDepth = 3;
  static constexpr int kRowDepth = 4;

  CappedDocumentBuilder(rapidjson::Document& document, int max_depth,
                        rapidjson::InsituStringStream& stream, std::vector<RowSpan>* rows)
      : document_(document), max_depth_(max_depth), stream_(stream), rows_(rows) {}

  Failure failure() const { return failure_; }

  bool Null() { return document_.Null(); }
  bool Bool(bool b) { return document_.Bool(b); }
  bool Int(int i) { return document_.Int(i); }
  bool Uint(unsigned u) { return document_.Uint(u); }
  bool Int64(int64_t i) { return document_.Int64(i); }
  bool Uint64(uint64_t u) { return document_.Uint64(u); }
  bool Double(double d) { return document_.Double(d); }
  bool String(const char* text, SizeType length, bool copy) {
    return IsUtf8(text, length) && document_.String(text, length, copy);
  }
  bool Key(const char* text, SizeType length, bool copy) {
    if (depth_ == 1 && rows_ != nullptr)
      config_table_key_ = absl::string_view(text, length) == "config_table";
    return IsUtf8(text, length) && document_.Key(text, length, copy);
  }
  // The recursive parser calls StartObject with the stream just past the '{', and EndObject just
  // past the '}'. (The decoder checks that each span holds an object.)
  bool StartObject() {
    if (!Enter()) return false;
    if (depth_ == kConfigTableDepth && config_table_key_) {
      in_config_table_ = true;
      rows_->clear();
    } else if (depth_ == kCollectionDepth) {
      in_collection_ = false;
    } else if (depth_ == kRowDepth && in_collection_) {
      rows_->push_back(RowSpan{stream_.Tell() - 1, 0});
    }
    return document_.StartObject();
  }
  bool EndObject(SizeType members) {
    if (depth_ == kRowDepth && in_collection_) rows_->back().end = stream_.Tell();
    if (depth_ == kConfigTableDepth) in_config_table_ = false;
    --depth_;
    return document_.EndObject(members);
  }
  bool StartArray() {
    if (!Enter()) return false;
    if (depth_ == kCollectionDepth) in_collection_ = in_config_table_;
    return document_.StartArray();
  }
  bool EndArray(SizeType elements) {
    if (depth_ == kCollectionDepth) in_collection_ = false;
    --depth_;
    return document_.EndArray(elements);
  }

  // `text` is a number the reader has already checked against JSON's grammar.
  bool RawNumber(const char* text, SizeType length, bool copy) {
    // Most numbers in a config are integers (timestamps, ports, counts): up to 18 digits they fit
    // an int64 exactly, and are read here without a library call.
    const char* const end = text + length;
    const bool negative = *text == '-';
    const char* const digits = text + (negative ? 1 : 0);
    if (end - digits <= 18) {
      int64_t value = 0;
      const char* p = digits;
      for (; p < end && *p >= '0' && *p <= '9'; ++p) value = value * 10 + (*p - '0');
      if (p == end) {
        if (negative && value == 0) return document_.Double(-0.0);
        return document_.Int64(negative ? -value : value);
      }
    }
    const absl::string_view number(text, length);
    if (number.find_first_of(".eE") == absl::string_view::npos) {
      if (number == "-0") return document_.Double(-0.0);
      int64_t i = 0;
      if (absl::SimpleAtoi(number, &i)) return document_.Int64(i);
      uint64_t u = 0;
      if (absl::SimpleAtoi(number, &u)) return document_.Uint64(u);
      // Integers beyond 64 bits become doubles, as they are in Lua.
    }
    double d = 0;
    const absl::from_chars_result result = absl::from_chars(text, text + length, d);
    if (result.ec == std::errc::result_out_of_range && d == 0) {
      // Underflow rounds to (signed) zero, as strtod does in Kong's cjson.
      return document_.Double(d);
    }
    if (result.ec != std::errc() || result.ptr != text + length) {
      failure_ = Failure::kNumberTooBig;
      return false;
    }
    return document_.Double(d);
  }

 private:
  bool Enter() {
    if (++depth_ <= max_depth_) return true;
    failure_ = Failure::kTooDeep;
    return false;
  }

  // RapidJSON 1.1.0 validates the raw bytes, but decodes the escape of a lone low surrogate
  // (\udc00 to \udfff) to the 3 bytes ED B0 80 to ED BF BF, which are not UTF-8. Served entity
  // JSON, and the ids and type names that go into proto string fields, must be UTF-8 (a client's
  // protobuf refuses the whole update otherwise), and Kong's simdjson refuses such escapes too.
  // The raw bytes were validated, so an ED followed by A0 or above can only come from an escape.
  bool IsUtf8(const char* text, SizeType length) {
    const char* const end = text + length;
    const char* p = text;
    // Short strings (most keys and values) are checked inline; a library call costs more.
    if (length < 32) {
      for (; p + 1 < end; ++p) {
        if (*p == '\xED' && static_cast<unsigned char>(p[1]) >= 0xA0) {
          failure_ = Failure::kLoneSurrogate;
          return false;
        }
      }
      return true;
    }
    while ((p = static_cast<const char*>(std::memchr(p, '\xED', end - p))) != nullptr) {
      if (++p < end && static_cast<unsigned char>(*p) >= 0xA0) {
        failure_ = Failure::kLoneSurrogate;
        return false;
      }
    }
    return true;
  }

  rapidjson::Document& document_;
  const int max_depth_;
  rapidjson::InsituStringStream& stream_;  // Tell() is not const in RapidJSON 1.1
  std::vector<RowSpan>* const rows_;       // null: rows are not tracked
  int depth_ = 0;
  Failure failure_ = Failure::kNone;
  bool config_table_key_ = false;  // the message member being parsed is config_table
  bool in_config_table_ = false;   // inside config_table's object
  bool in_collection_ = false;     // inside an array that is a member of config_table
};

}  // namespace

absl::Status ParseJsonInSitu(std::string& json, int max_depth, rapidjson::Document& document,
                             std::vector<RowSpan>* rows) {
  // RapidJSON 1.1.0 validates a multi-byte UTF-8 sequence by taking its continuation bytes without
  // looking for the end, so a lead byte (C0 or above) in the last two bytes makes the parse read,
  // and write back in place, up to two bytes past the terminating NUL. JSON text never ends that
  // way (the string holding the sequence would still be open), so such a buffer is refused first.
  for (size_t i = json.size() - std::min<size_t>(json.size(), 2); i < json.size(); ++i) {
    if (static_cast<unsigned char>(json[i]) >= 0xC0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid json at offset ", i, ": utf-8 sequence cut off by the end"));
    }
  }
  // Kong's default JSON decoder (simdjson) rejects invalid UTF-8 too. Checked here, sixteen bytes
  // at a time while they are ASCII, rather than with kParseValidateEncodingFlag, which checks
  // every byte of every string inside the parser. Outside strings such bytes would be a syntax
  // error anyway. In the same pass: the in-situ stream stops at the first NUL, which would
  // silently drop the rest of the buffer.
  if (const size_t bad = FirstInvalidByte(json); bad != json.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid json at offset ", bad,
                     json[bad] == '\0' ? ": nul byte outside a string" : ": invalid utf-8"));
  }
  rapidjson::Reader reader;
  rapidjson::ParseResult result;
  CappedDocumentBuilder::Failure failure = CappedDocumentBuilder::Failure::kNone;
  auto generate = [&](rapidjson::Document& target) {
    rapidjson::InsituStringStream stream(json.data());
    CappedDocumentBuilder builder(target, max_depth, stream, rows);
    result = reader.Parse<kParseFlags>(stream, builder);
    failure = builder.failure();
    return !result.IsError();
  };
  document.Populate(generate);
  if (!result.IsError()) return absl::OkStatus();
  switch (failure) {
    case CappedDocumentBuilder::Failure::kTooDeep:
      return absl::ResourceExhaustedError(absl::StrCat("invalid json at offset ", result.Offset(),
                                                       ": nested deeper than ", max_depth));
    case CappedDocumentBuilder::Failure::kNumberTooBig:
      return absl::InvalidArgumentError(
          absl::StrCat("invalid json at offset ", result.Offset(), ": number too big"));
    case CappedDocumentBuilder::Failure::kLoneSurrogate:
      return absl::InvalidArgumentError(absl::StrCat("invalid json at offset ", result.Offset(),
                                                     ": \\u escape of a lone low surrogate"));
    case CappedDocumentBuilder::Failure::kNone:
      break;
  }
  // RapidJSON's English messages are capitalised and end in a period; ours are not and do not.
  std::string reason = rapidjson::GetParseError_En(result.Code());
  if (!reason.empty() && reason.back() == '.') reason.pop_back();
  if (!reason.empty()) reason[0] = absl::ascii_tolower(reason[0]);
  return absl::InvalidArgumentError(
      absl::StrCat("invalid json at offset ", result.Offset(), ": ", reason));
}

}  // namespace tether::config

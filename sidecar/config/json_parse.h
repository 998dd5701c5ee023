// JSON parsing as the decoder needs it: Kong's reading of numbers, a depth cap enforced as the
// parse descends, and UTF-8 checked.
//
// Why a module of its own: the decoder reads CP messages with it as a stream of events, and the
// delta and the decoder's row hashes parse single rows with it into a tree, so that "-0" and long
// doubles mean the same thing to all of them.
//
// Threading: pure functions, thread-safe; a RowParser belongs to one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"
#include "rapidjson/reader.h"

namespace tether::config {

// What stopped a parse that RapidJSON alone would have accepted.
enum class JsonFailure { kNone, kTooDeep, kNumberTooBig, kLoneSurrogate };

// A number as Kong's cjson reads it (strtod): "-0" is a negative zero, integers beyond 64 bits
// become doubles. `text` has already passed JSON's number grammar.
struct JsonNumber {
  enum class Kind { kInt64, kUint64, kDouble, kTooBig };
  Kind kind = Kind::kTooBig;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
};
JsonNumber ReadJsonNumber(absl::string_view text);

// RapidJSON 1.1.0 decodes the escape of a lone low surrogate (\udc00 to \udfff) to bytes that are
// not UTF-8: false for a decoded string that holds them.
bool DecodedStringIsUtf8(const char* text, size_t length);

// A scalar as KongJsonEvents reports it, for a target that handles every kind alike (the
// message reader); `text` views the parser's buffer until the event returns.
struct JsonScalar {
  enum class Kind { kNull, kBool, kInt64, kUint64, kDouble, kString };
  explicit JsonScalar(Kind k = Kind::kNull) : kind(k) {}
  template <typename T>
  static JsonScalar Of(Kind kind, T JsonScalar::*field, T value) {
    JsonScalar scalar(kind);
    scalar.*field = value;
    return scalar;
  }

  Kind kind;
  bool b = false;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  absl::string_view text;

  std::optional<double> Number() const {
    switch (kind) {
      case Kind::kInt64:
        return static_cast<double>(i);
      case Kind::kUint64:
        return static_cast<double>(u);
      case Kind::kDouble:
        return d;
      default:
        return std::nullopt;
    }
  }
};

// A RapidJSON handler that passes every event on to `Target` (a rapidjson::Document, or any class
// with the same Null/Bool/Int64/Uint64/Double/String/Key/Start*/End* members), with numbers read
// by ReadJsonNumber and strings checked by DecodedStringIsUtf8. It stops the parse when nesting
// passes `max_depth`, before the target sees the container, so nothing that walks a tree later
// (writer, hash) can recurse deeper than that. Parse with kParseJsonFlags.
template <typename Target>
class KongJsonEvents {
 public:
  KongJsonEvents(Target& target, int max_depth) : target_(target), max_depth_(max_depth) {}

  JsonFailure failure() const { return failure_; }

  bool Null() { return target_.Null(); }
  bool Bool(bool b) { return target_.Bool(b); }
  // Never called: with kParseJsonFlags every number arrives as RawNumber. RapidJSON's reader
  // needs them to compile.
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }
  bool RawNumber(const char* text, rapidjson::SizeType length, bool) {
    const JsonNumber number = ReadJsonNumber(absl::string_view(text, length));
    switch (number.kind) {
      case JsonNumber::Kind::kInt64:
        return target_.Int64(number.i);
      case JsonNumber::Kind::kUint64:
        return target_.Uint64(number.u);
      case JsonNumber::Kind::kDouble:
        return target_.Double(number.d);
      case JsonNumber::Kind::kTooBig:
        break;
    }
    failure_ = JsonFailure::kNumberTooBig;
    return false;
  }
  bool String(const char* text, rapidjson::SizeType length, bool copy) {
    return CheckUtf8(text, length) && target_.String(text, length, copy);
  }
  bool Key(const char* text, rapidjson::SizeType length, bool copy) {
    return CheckUtf8(text, length) && target_.Key(text, length, copy);
  }
  bool StartObject() { return Enter() && target_.StartObject(); }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return target_.EndObject(members);
  }
  bool StartArray() { return Enter() && target_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return target_.EndArray(elements);
  }

 private:
  bool Enter() {
    if (++depth_ <= max_depth_) return true;
    failure_ = JsonFailure::kTooDeep;
    return false;
  }
  bool CheckUtf8(const char* text, rapidjson::SizeType length) {
    if (DecodedStringIsUtf8(text, length)) return true;
    failure_ = JsonFailure::kLoneSurrogate;
    return false;
  }

  Target& target_;
  const int max_depth_;
  int depth_ = 0;
  JsonFailure failure_ = JsonFailure::kNone;
};

// Numbers reach KongJsonEvents as text. No kParseValidateEncodingFlag: ValidateJsonPiece checks
// each piece of text before the parser reads it, sixteen bytes at a time while they are ASCII,
// which is cheaper than checking every byte of every string inside the parser. Recursive
// (RapidJSON's default, about a tenth faster than kParseIterativeFlag here): one C++ call level per
// nesting level, bounded by KongJsonEvents' depth cap.
inline constexpr unsigned kParseJsonFlags = rapidjson::kParseNumbersAsStringsFlag;

// Error messages quote untrusted strings (type names, ids) escaped and at most this long, so a
// hostile CP cannot fill our logs through them.
inline constexpr size_t kMaxQuotedBytes = 64;
std::string Quote(absl::string_view text);
// A key as it appears in a path such as config_table.routes[3]: bare when it is a plain name,
// quoted otherwise.
std::string PathKey(absl::string_view key);

// What must hold of a text before RapidJSON parses it: UTF-8 as Kong's simdjson requires, no NUL
// (RapidJSON's streams stop at the first one and would drop the rest silently), and no multi-byte
// sequence cut off by the end (RapidJSON 1.1.0 reads past it). Checked a piece at a time as the
// text is inflated: `piece` starts at `offset` in the text, and InvalidArgument names the offset.
// Unless `last`, a bad byte in the piece's last three may start a sequence the next piece
// completes, so it is no error yet: `checked` stops before it, and the caller puts those bytes in
// front of the next piece. Otherwise `checked` is how far the piece is good.
absl::Status ValidateJsonPiece(absl::string_view piece, size_t offset, bool last, size_t& checked);
// Once the text has ended, before its last piece: its last (up to) two bytes, which start at
// `offset`.
absl::Status CheckJsonTextEnd(absl::string_view last_bytes, size_t offset);

// The Status for a parse that failed with `result`, or OK. Messages name the offset.
absl::Status JsonParseStatus(const rapidjson::ParseResult& result, JsonFailure failure,
                             int max_depth);

// Parses JSON values one after another (rows of a config) into a tree, reusing its buffers. For
// text the decoder has read already (a row or the config_table of a message it accepted), so
// that it is known to be valid UTF-8 without NUL: it is not checked again.
class RowParser {
 public:
  explicit RowParser(int max_depth)
      : max_depth_(max_depth),
        allocator_(tree_buffer_, sizeof(tree_buffer_)),
        stack_allocator_(stack_buffer_, sizeof(stack_buffer_)),
        document_(&allocator_, sizeof(stack_buffer_), &stack_allocator_) {}
  RowParser(const RowParser&) = delete;
  RowParser& operator=(const RowParser&) = delete;

  // The tree of `json`, one JSON value, valid until the next call. `json` need not end in a NUL,
  // but must lie in text that does (a std::string): the parse stops at the end of the value, and
  // fails (InvalidArgument) if that is not the end of `json`. Other errors as JsonParseStatus.
  absl::StatusOr<const rapidjson::Value*> Parse(absl::string_view json);

 private:
  // The tree and the parser's stack live in pools that start in these buffers and are cleared for
  // each parse, so a row of usual size costs no allocation (a Document of its own allocated and
  // freed both for every row, as much as the rest of the hash).
  using Pool = rapidjson::MemoryPoolAllocator<>;
  const int max_depth_;
  alignas(8) char tree_buffer_[16 << 10];
  alignas(8) char stack_buffer_[4 << 10];
  Pool allocator_;
  Pool stack_allocator_;
  rapidjson::GenericDocument<rapidjson::UTF8<>, Pool, Pool> document_;
};

}  // namespace tether::config

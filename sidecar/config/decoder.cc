#include "sidecar/config/decoder.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/charconv.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "protocol/constants.h"
#include "protocol/kong_hash.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"
#include "rapidjson/reader.h"
#include "sidecar/config/compact_json.h"
#include "sidecar/config/inflate.h"

namespace tether::config {
namespace {

using rapidjson::SizeType;
using rapidjson::Value;

// Where RejectedConfigHash finds the rejected message's config_hash.
constexpr absl::string_view kRejectedHashPayload =
    "type.tether.dev/tether.config.RejectedConfigHash";

// The `hashes` key for the whole config (kong-protocol.md §3.2); the other keys Kong sends are
// protocol::kHashedSections.
constexpr absl::string_view kConfigHashKey = "config";

// RapidJSON stores string lengths as 32-bit, so a larger document could not be represented.
constexpr size_t kMaxDocumentBytes = UINT32_MAX - 1;

// Error messages quote untrusted strings (type names, ids) escaped and at most this long, so a
// hostile CP cannot fill our logs through them.
constexpr size_t kMaxQuotedBytes = 64;

// Flags for the reconfigure message:
// - insitu: strings are decoded into the inflated buffer itself instead of being copied;
// - iterative: the parser keeps its own heap stack, never recursing per nesting level;
// - numbers as strings: numbers reach CappedDocumentBuilder as text, which converts them so that
//   "-0" stays a negative zero and doubles round exactly (Kong's cjson uses strtod).
// No kParseValidateEncodingFlag: ParseMessage validates the whole buffer first (InvalidUtf8At).
constexpr unsigned kParseFlags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseNumbersAsStringsFlag;

std::string Quote(absl::string_view text) {
  if (text.size() <= kMaxQuotedBytes) return absl::StrCat("\"", absl::CHexEscape(text), "\"");
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxQuotedBytes)), "\"...");
}

// A key as it appears in a path such as config_table.routes[3]: bare when it is a plain name,
// quoted otherwise.
std::string PathKey(absl::string_view key) {
  const bool plain = !key.empty() && key.size() <= kMaxQuotedBytes &&
                     std::all_of(key.begin(), key.end(), [](char c) {
                       return absl::ascii_isalnum(c) || c == '_' || c == '-';
                     });
  return plain ? std::string(key) : Quote(key);
}

absl::string_view View(const Value& string) {
  return absl::string_view(string.GetString(), string.GetStringLength());
}

// The last member named `key`: with repeated keys, Kong's Lua table keeps the last value, and
// Kong's hash (protocol::KongHashValue) follows the same rule.
const Value* FindLastMember(const Value& object, absl::string_view key) {
  const Value* found = nullptr;
  for (const auto& member : object.GetObject()) {
    if (View(member.name) == key) found = &member.value;
  }
  return found;
}

bool IsLowerHexHash(const Value& value) {
  if (!value.IsString() || value.GetStringLength() != protocol::kConfigHashLength) return false;
  const absl::string_view text = View(value);
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); });
}

// The offset of the first byte of `text` that does not begin a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or text.size() when all
// of it is UTF-8. Sixteen bytes at a time while they are ASCII, which Kong configs nearly are.
size_t InvalidUtf8At(absl::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
  while (i < size) {
    if (size - i >= 16) {
      uint64_t a;
      uint64_t b;
      std::memcpy(&a, bytes + i, 8);
      std::memcpy(&b, bytes + i + 8, 8);
      if (((a | b) & 0x8080808080808080) == 0) {
        i += 16;
        continue;
      }
    }
    const unsigned char lead = bytes[i];
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
class CappedDocumentBuilder {
 public:
  enum class Failure { kNone, kTooDeep, kNumberTooBig, kLoneSurrogate };

  CappedDocumentBuilder(rapidjson::Document& document, int max_depth)
      : document_(document), max_depth_(max_depth) {}

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
    return IsUtf8(text, length) && document_.Key(text, length, copy);
  }
  bool StartObject() { return Enter() && document_.StartObject(); }
  bool EndObject(SizeType members) {
    --depth_;
    return document_.EndObject(members);
  }
  bool StartArray() { return Enter() && document_.StartArray(); }
  bool EndArray(SizeType elements) {
    --depth_;
    return document_.EndArray(elements);
  }

  // `text` is a number the reader has already checked against JSON's grammar.
  bool RawNumber(const char* text, SizeType length, bool copy) {
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
  int depth_ = 0;
  Failure failure_ = Failure::kNone;
};

// Parses `json` in place (it must stay alive and unmoved while `document` is used).
absl::Status ParseMessage(std::string& json, int max_depth, rapidjson::Document& document) {
  // The in-situ stream stops at the first NUL, which would silently drop the rest of the buffer.
  if (const void* nul = std::memchr(json.data(), '\0', json.size()); nul != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("invalid json at offset ",
                                                   static_cast<const char*>(nul) - json.data(),
                                                   ": nul byte outside a string"));
  }
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
  // Kong's default JSON decoder (simdjson) rejects invalid UTF-8 too. Checked here rather than
  // with kParseValidateEncodingFlag, whose per-byte checks made up about a fifth of the parse
  // (BENCHMARKS.md). Outside strings such bytes would be a syntax error anyway.
  if (const size_t bad = InvalidUtf8At(json); bad != json.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid json at offset ", bad, ": invalid utf-8"));
  }
  rapidjson::Reader reader;
  rapidjson::ParseResult result;
  CappedDocumentBuilder::Failure failure = CappedDocumentBuilder::Failure::kNone;
  auto generate = [&](rapidjson::Document& target) {
    CappedDocumentBuilder builder(target, max_depth);
    rapidjson::InsituStringStream stream(json.data());
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

// Compact JSON of `value`, keys in document order. `scratch` is reused across calls.
std::string CompactJson(const Value& value, rapidjson::StringBuffer& scratch) {
  scratch.Clear();
  AppendCompactJson(value, scratch);
  return std::string(scratch.GetString(), scratch.GetSize());
}

bool IsKongHashedSection(absl::string_view type) {
  return std::find(std::begin(protocol::kHashedSections), std::end(protocol::kHashedSections),
                   type) != std::end(protocol::kHashedSections);
}

// What the message says about its config, read before any entity is built.
struct Header {
  const Value* config_table = nullptr;
  std::string config_hash;
  std::map<std::string, std::string> hashes;
  std::optional<double> cp_timestamp;
};

// Reads the message's `hashes` into `header`.
absl::Status ReadHashes(const Value& hashes, Header& header) {
  if (!hashes.IsObject()) return absl::InvalidArgumentError("hashes is not an object");
  for (const auto& member : hashes.GetObject()) {
    const absl::string_view key = View(member.name);
    if (!member.value.IsString()) {
      return absl::InvalidArgumentError(absl::StrCat("hashes.", PathKey(key), " is not a string"));
    }
    // Other keys are ignored: the snapshot's hashes for other types are always computed here, so
    // a CP cannot make them disagree with the entities.
    if (key != kConfigHashKey && !IsKongHashedSection(key)) continue;
    if (!IsLowerHexHash(member.value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("hashes.", key, ": want 32 lowercase hex chars"));
    }
    header.hashes[std::string(key)] = std::string(View(member.value));
  }
  return absl::OkStatus();
}

// Kong's update() steps 1 and 2 (kong-protocol.md §3.6): compute the hashes when the message has
// no config_hash (Kong 2.x), then fill missing `hashes` keys with 32 zeros. Hashes from the
// message are trusted, not recomputed: the CP hashes its Lua table, which can differ from ours
// for numbers with more than 14 significant digits (§3.5, caveat).
void CompleteHashes(Header& header, bool had_config_hash) {
  if (!had_config_hash) {
    protocol::ConfigHashes computed = protocol::CalculateConfigHash(*header.config_table);
    header.config_hash = std::move(computed.config_hash);
    header.hashes = std::move(computed.hashes);
  }
  header.hashes.try_emplace(std::string(kConfigHashKey), protocol::kEmptyConfigHash);
  for (absl::string_view section : protocol::kHashedSections) {
    header.hashes.try_emplace(std::string(section), protocol::kEmptyConfigHash);
  }
}

// Builds one entity collection from `rows` (a JSON array). Errors name the row.
absl::Status BuildCollection(absl::string_view type, const Value& rows,
                             rapidjson::StringBuffer& scratch, EntityCollection& collection) {
  // kong-protocol.md §7.3: the primary key is `id`, except for `parameters`.
  const absl::string_view key_name = type == "parameters" ? "key" : "id";
  collection.items.reserve(rows.Size());
  collection.index.reserve(rows.Size());
  for (SizeType i = 0; i < rows.Size(); ++i) {
    const Value& row = rows[i];
    if (!row.IsObject()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config_table.", PathKey(type), "[", i, "]: not an object"));
    }
    const Value* key = FindLastMember(row, key_name);
    if (key == nullptr || !key->IsString() || key->GetStringLength() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("config_table.", PathKey(type), "[", i, "]: missing string ", key_name));
    }
    const auto [it, inserted] = collection.index.try_emplace(View(*key), collection.items.size());
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("config_table.", PathKey(type), "[", i,
                                                     "]: duplicate ", key_name, " ",
                                                     Quote(View(*key))));
    }
    collection.items.push_back(Entity{std::string(View(*key)), CompactJson(row, scratch)});
  }
  return absl::OkStatus();
}

// Splits config_table into entity collections and metadata.
//
// Empty arrays are kept as empty collections: the CP omits empty collections (§7.1), so one that
// is present was sent on purpose, and Kong hashes it (md5("{}")) rather than treating it as absent.
absl::Status BuildEntities(const Value& config_table, Snapshot& snapshot) {
  rapidjson::StringBuffer scratch;
  for (const auto& member : config_table.GetObject()) {
    const absl::string_view name = View(member.name);
    if (snapshot.types.find(name) != snapshot.types.end() ||
        snapshot.metadata.find(std::string(name)) != snapshot.metadata.end()) {
      // Kong would keep the last; refusing is safer than serving a config that means two things.
      return absl::InvalidArgumentError(
          absl::StrCat("config_table.", PathKey(name), ": duplicate key"));
    }
    if (absl::StartsWith(name, "_") || !member.value.IsArray()) {
      snapshot.metadata.emplace(std::string(name), CompactJson(member.value, scratch));
      continue;
    }
    EntityCollection& collection = snapshot.types[std::string(name)];
    if (absl::Status status = BuildCollection(name, member.value, scratch, collection);
        !status.ok()) {
      return status;
    }
    if (IsKongHashedSection(name)) {
      collection.hash = snapshot.hashes.at(std::string(name));
    } else {
      collection.hash = protocol::KongHashValue(member.value);
      // A collection literally named "config" keeps its own hash but cannot take Kong's key.
      if (name != kConfigHashKey) snapshot.hashes[std::string(name)] = collection.hash;
    }
  }
  return absl::OkStatus();
}

// The decode after inflating. Sets `known_hash` as soon as the message's config_hash is read, so
// the caller can attach it to a later error.
absl::StatusOr<DecodeResult> DecodeJson(std::string& json, absl::string_view applied_hash,
                                        const DecodeLimits& limits, std::string& known_hash,
                                        std::shared_ptr<Snapshot>& snapshot) {
  rapidjson::Document document;
  if (absl::Status status = ParseMessage(json, limits.max_json_depth, document); !status.ok()) {
    return status;
  }
  if (!document.IsObject()) return absl::InvalidArgumentError("message is not a json object");

  const Value* type = FindLastMember(document, "type");
  if (type == nullptr || !type->IsString()) {
    return absl::InvalidArgumentError("message: missing string type");
  }
  // §3.1: Kong's DP silently ignores other message types.
  if (View(*type) != "reconfigure") {
    DecodeResult result;
    result.kind = DecodeResult::Kind::kIgnoredType;
    result.message_type = std::string(View(*type));
    return result;
  }

  Header header;
  const Value* config_hash = FindLastMember(document, "config_hash");
  if (config_hash != nullptr) {
    if (!IsLowerHexHash(*config_hash)) {
      return absl::InvalidArgumentError("config_hash: want 32 lowercase hex chars");
    }
    header.config_hash = std::string(View(*config_hash));
    known_hash = header.config_hash;
  }

  header.config_table = FindLastMember(document, "config_table");
  if (header.config_table == nullptr) return absl::InvalidArgumentError("missing config_table");
  if (!header.config_table->IsObject()) {
    return absl::InvalidArgumentError("config_table is not an object");
  }
  if (const Value* hashes = FindLastMember(document, "hashes"); hashes != nullptr) {
    if (absl::Status status = ReadHashes(*hashes, header); !status.ok()) return status;
  }
  // Informational only (Kong's DP just logs it), so a non-number is ignored rather than fatal.
  if (const Value* timestamp = FindLastMember(document, "timestamp");
      timestamp != nullptr && timestamp->IsNumber()) {
    header.cp_timestamp = timestamp->GetDouble();
  }
  CompleteHashes(header, /*had_config_hash=*/config_hash != nullptr);
  // Kong reports the computed hash with errors too, so a later rejection names it either way.
  known_hash = header.config_hash;

  DecodeResult result;
  result.config_hash = header.config_hash;
  // §3.6 step 3: a config already applied is not rebuilt.
  if (header.config_hash == applied_hash) {
    result.kind = DecodeResult::Kind::kSameHash;
    return result;
  }

  snapshot = std::make_shared<Snapshot>();
  snapshot->config_hash = header.config_hash;
  snapshot->hashes = std::move(header.hashes);
  snapshot->cp_timestamp = header.cp_timestamp;
  if (absl::Status status = BuildEntities(*header.config_table, *snapshot); !status.ok()) {
    return status;
  }
  result.kind = DecodeResult::Kind::kNewSnapshot;
  return result;
}

}  // namespace

absl::StatusOr<DecodeResult> DecodeReconfigure(absl::string_view frame,
                                               absl::string_view applied_hash,
                                               const DecodeLimits& limits, Source source,
                                               absl::Time received_at) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> json =
      Inflate(frame, std::min(limits.max_inflated_bytes, kMaxDocumentBytes));
  if (!json.ok()) return json.status();
  const size_t decoded_bytes = json->size();

  std::string known_hash;
  std::shared_ptr<Snapshot> snapshot;
  absl::StatusOr<DecodeResult> result =
      DecodeJson(*json, applied_hash, limits, known_hash, snapshot);
  if (!result.ok()) {
    absl::Status status = result.status();
    if (!known_hash.empty()) status.SetPayload(kRejectedHashPayload, absl::Cord(known_hash));
    return status;
  }
  if (snapshot != nullptr) {
    snapshot->source = source;
    snapshot->received_at = received_at;
    snapshot->compressed_bytes = frame.size();
    snapshot->decoded_bytes = decoded_bytes;
    // Last, so it covers everything but freeing the parse buffers.
    snapshot->decode_duration = absl::Now() - start;
    result->snapshot = std::move(snapshot);
  }
  return result;
}

std::string RejectedConfigHash(const absl::Status& status) {
  const auto payload = status.GetPayload(kRejectedHashPayload);
  return payload.has_value() ? std::string(*payload) : std::string();
}

}  // namespace tether::config

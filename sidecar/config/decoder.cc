#include "sidecar/config/decoder.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "protocol/constants.h"
#include "protocol/kong_hash.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "sidecar/config/inflate.h"
#include "sidecar/config/json_parse.h"

namespace tether::config {
namespace {

using rapidjson::SizeType;
using rapidjson::Value;

// Where RejectionOf finds the rejected message's config_hash and the cause.
constexpr absl::string_view kRejectedHashPayload =
    "type.tether.dev/tether.config.RejectedConfigHash";
constexpr absl::string_view kRejectCausePayload = "type.tether.dev/tether.config.RejectCause";

// Tags `status` with its cause, so that readers switch on the cause instead of the message.
absl::Status WithCause(absl::Status status, RejectCause cause) {
  status.SetPayload(kRejectCausePayload, absl::Cord(absl::StrCat(static_cast<int>(cause))));
  return status;
}

// Every cap (payload, inflated size, JSON nesting) says ResourceExhausted; `otherwise` names
// what the stage that failed checks.
RejectCause CauseOf(const absl::Status& status, RejectCause otherwise) {
  if (absl::IsResourceExhausted(status)) return RejectCause::kTooLarge;
  return absl::IsInvalidArgument(status) ? otherwise : RejectCause::kOther;
}

// The `hashes` key for the whole config (kong-protocol.md §3.2); the other keys Kong sends are
// protocol::kHashedSections.
constexpr absl::string_view kConfigHashKey = "config";

// See DecodeJson.
constexpr size_t kParseTreeChunkBytes = size_t{4} << 20;

// RapidJSON stores string lengths as 32-bit, so a larger document could not be represented.
constexpr size_t kMaxDocumentBytes = UINT32_MAX - 1;

// Error messages quote untrusted strings (type names, ids) escaped and at most this long, so a
// hostile CP cannot fill our logs through them.
constexpr size_t kMaxQuotedBytes = 64;

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

// Compact JSON of `value`, keys in document order: for metadata, which is a few small values.
std::string CompactJson(const Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
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

// What entities are built from: the message's text as received, which the snapshot keeps and
// its entities view, and the copy the in-situ parse decoded into, where the document's strings
// point. Hands out the rows' spans (json_parse.h) in document order.
struct RowSource {
  absl::string_view text;
  const char* parsed = nullptr;
  const std::vector<RowSpan>* spans = nullptr;
  size_t next = 0;

  // The next row's JSON, as the CP sent it.
  absl::StatusOr<absl::string_view> NextRow() {
    // The parser reported every row (each is an object in a collection), so running out, or a
    // span that is not an object's text, would be a decoder bug: refuse rather than serve it.
    if (next == spans->size()) return absl::InternalError("decoder: more rows than spans");
    const RowSpan span = (*spans)[next++];
    if (span.end <= span.begin || span.end > text.size() || text[span.begin] != '{' ||
        text[span.end - 1] != '}') {
      return absl::InternalError(absl::StrCat("decoder: no object at ", span.begin));
    }
    return text.substr(span.begin, span.end - span.begin);
  }

  // The rows of an array that is not an entity collection are not served.
  void SkipRows(const Value& array) {
    for (const Value& element : array.GetArray()) next += element.IsObject() ? 1 : 0;
  }

  // `id`, a string of the document, as a view into `text` when the CP sent it without escapes
  // (nearly always): the in-situ parse decodes a string where its raw bytes start, so those bytes
  // are there, followed by the closing quote. Otherwise the snapshot keeps a copy.
  absl::string_view Id(const Value& id, Snapshot& snapshot) const {
    const absl::string_view decoded = View(id);
    const auto at = reinterpret_cast<uintptr_t>(decoded.data());
    const auto base = reinterpret_cast<uintptr_t>(parsed);
    if (at >= base && at - base < text.size() && text.size() - (at - base) > decoded.size()) {
      const absl::string_view raw = text.substr(at - base, decoded.size());
      if (raw == decoded && text[at - base + decoded.size()] == '"' &&
          raw.find('\\') == absl::string_view::npos) {
        return raw;
      }
    }
    return snapshot.Keep(std::string(decoded));
  }
};

// Kong's hashes of the collections Kong does not hash itself (KongHashValue over each), which
// were about a fifth of a large config's decode (BENCHMARKS.md). When there are enough rows, a
// helper thread takes jobs while this one builds the entities, and this one takes what is left
// after. Each job writes only its own output; reading the document from both threads is safe,
// as nothing writes it then.
class CollectionHasher {
 public:
  struct Job {
    const Value* rows;
    std::string* hash;
  };

  explicit CollectionHasher(std::vector<Job> jobs) : jobs_(std::move(jobs)) {
    // Biggest first, so that the two threads finish close together.
    std::sort(jobs_.begin(), jobs_.end(),
              [](const Job& a, const Job& b) { return a.rows->Size() > b.rows->Size(); });
    size_t rows = 0;
    for (const Job& job : jobs_) rows += job.rows->Size();
    if (rows >= kMinRowsForHelper) {
      try {
        helper_ = std::jthread([this] { Work(); });
      } catch (const std::system_error&) {
        // No thread to be had (a pids limit): Finish() hashes everything on this one.
      }
    }
  }

  // On an error path: the helper finishes the job it holds and takes no more.
  ~CollectionHasher() { next_.store(jobs_.size()); }

  CollectionHasher(const CollectionHasher&) = delete;
  CollectionHasher& operator=(const CollectionHasher&) = delete;

  // Hashes whatever the helper has not taken, then waits for it: every hash is written after.
  void Finish() {
    Work();
    if (helper_.joinable()) helper_.join();
  }

 private:
  // Below this, starting a thread costs more than it saves.
  static constexpr size_t kMinRowsForHelper = 1000;

  void Work() {
    for (size_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < jobs_.size();) {
      *jobs_[i].hash = protocol::KongHashValue(*jobs_[i].rows);
    }
  }

  std::vector<Job> jobs_;
  std::atomic<size_t> next_{0};
  std::jthread helper_;  // last, so that it is joined before the jobs are destroyed
};

// Builds one entity collection from `rows` (a JSON array). Errors name the row.
absl::Status BuildCollection(absl::string_view type, const Value& rows, RowSource& source,
                             Snapshot& snapshot, EntityCollection& collection) {
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
    absl::StatusOr<absl::string_view> json = source.NextRow();
    if (!json.ok()) return json.status();
    const Value* key = FindLastMember(row, key_name);
    if (key == nullptr || !key->IsString() || key->GetStringLength() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("config_table.", PathKey(type), "[", i, "]: missing string ", key_name));
    }
    const absl::string_view id = source.Id(*key, snapshot);
    const auto [it, inserted] = collection.index.try_emplace(id, collection.items.size());
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat("config_table.", PathKey(type), "[", i,
                                                     "]: duplicate ", key_name, " ", Quote(id)));
    }
    collection.items.push_back(Entity{id, *json});
  }
  return absl::OkStatus();
}

// Splits config_table into entity collections and metadata.
//
// Empty arrays are kept as empty collections: the CP omits empty collections (§7.1), so one that
// is present was sent on purpose, and Kong hashes it (md5("{}")) rather than treating it as absent.
absl::Status BuildEntities(const Value& config_table, const DecodeLimits& limits, RowSource& source,
                           Snapshot& snapshot) {
  if (config_table.MemberCount() > limits.max_types) {
    return absl::ResourceExhaustedError(
        absl::StrCat("config_table has ", config_table.MemberCount(), " keys, more than ",
                     limits.max_types, " (--cluster-max-entity-types)"));
  }
  size_t entities = 0;
  for (const auto& member : config_table.GetObject()) {
    if (member.value.IsArray() && !absl::StartsWith(View(member.name), "_")) {
      entities += member.value.Size();
    }
  }
  if (entities > limits.max_entities) {
    return absl::ResourceExhaustedError(absl::StrCat("config_table has ", entities,
                                                     " entities, more than ", limits.max_entities,
                                                     " (--cluster-max-entities)"));
  }
  size_t metadata_bytes = 0;
  const auto metadata_too_large = [&](absl::string_view name) {
    return absl::ResourceExhaustedError(
        absl::StrCat("config_table metadata ", PathKey(name), " takes the metadata over ",
                     limits.max_metadata_bytes, " bytes (--cluster-max-metadata)"));
  };
  // First the layout: metadata, and each collection with where its rows' spans start.
  struct Pending {
    absl::string_view type;
    const Value* rows;
    size_t first_span;
    EntityCollection* collection;
  };
  std::vector<Pending> pending;
  std::vector<CollectionHasher::Job> hash_jobs;
  for (const auto& member : config_table.GetObject()) {
    const absl::string_view name = View(member.name);
    if (snapshot.types.find(name) != snapshot.types.end() ||
        snapshot.metadata.find(std::string(name)) != snapshot.metadata.end()) {
      // Kong would keep the last; refusing is safer than serving a config that means two things.
      return absl::InvalidArgumentError(
          absl::StrCat("config_table.", PathKey(name), ": duplicate key"));
    }
    const size_t first_span = source.next;
    if (member.value.IsArray()) source.SkipRows(member.value);
    if (absl::StartsWith(name, "_") || !member.value.IsArray()) {
      // A string's length is known before it is copied out; anything else is small or counted
      // once serialised.
      if (member.value.IsString() &&
          member.value.GetStringLength() > limits.max_metadata_bytes - metadata_bytes) {
        return metadata_too_large(name);
      }
      std::string json = CompactJson(member.value);
      metadata_bytes += name.size() + json.size();
      if (metadata_bytes > limits.max_metadata_bytes) return metadata_too_large(name);
      snapshot.metadata.emplace(std::string(name), std::move(json));
      continue;
    }
    auto collection = std::make_shared<EntityCollection>();
    snapshot.types.emplace(std::string(name), collection);
    pending.push_back(Pending{name, &member.value, first_span, collection.get()});
    if (IsKongHashedSection(name)) {
      collection->hash = snapshot.hashes.at(std::string(name));
    } else {
      hash_jobs.push_back(CollectionHasher::Job{&member.value, &collection->hash});
    }
  }
  // Then the entities, while the hashes are worked out alongside.
  CollectionHasher hasher(std::move(hash_jobs));
  for (const Pending& p : pending) {
    source.next = p.first_span;
    if (absl::Status status = BuildCollection(p.type, *p.rows, source, snapshot, *p.collection);
        !status.ok()) {
      return status;
    }
  }
  hasher.Finish();
  for (const Pending& p : pending) snapshot.added_bytes += p.collection->OverheadBytes();
  for (const Pending& p : pending) {
    // A collection literally named "config" keeps its own hash but cannot take Kong's key.
    if (!IsKongHashedSection(p.type) && p.type != kConfigHashKey) {
      snapshot.hashes[std::string(p.type)] = p.collection->hash;
    }
  }
  return absl::OkStatus();
}

// The decode after inflating. Sets `known_hash` as soon as the message's config_hash is read, so
// the caller can attach it to a later error.
absl::StatusOr<DecodeResult> DecodeJson(std::string& json, absl::string_view applied_hash,
                                        const DecodeLimits& limits, std::string& known_hash,
                                        std::shared_ptr<Snapshot>& snapshot) {
  // The in-situ parse writes into `json`; entities are served from this copy as received.
  std::string text = json;
  // Chunks of the parse tree this large are mmapped (sidecar/main.cc's threshold), so the tree
  // goes back to the OS when the decode ends; in RapidJSON's default 64 KiB chunks it would stay
  // in the decode thread's heap, as large as the config, for good.
  rapidjson::MemoryPoolAllocator<> tree_allocator(kParseTreeChunkBytes);
  rapidjson::Document document(&tree_allocator);
  std::vector<RowSpan> rows;
  if (absl::Status status = ParseJsonInSitu(json, limits.max_json_depth, document, &rows);
      !status.ok()) {
    return WithCause(status, CauseOf(status, RejectCause::kJson));
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
  RowSource source{snapshot->Keep(std::move(text)), json.data(), &rows};
  snapshot->added_bytes = source.text.size();
  if (absl::Status status = BuildEntities(*header.config_table, limits, source, *snapshot);
      !status.ok()) {
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
  if (!json.ok()) return WithCause(json.status(), CauseOf(json.status(), RejectCause::kGzip));
  const size_t decoded_bytes = json->size();

  std::string known_hash;
  std::shared_ptr<Snapshot> snapshot;
  absl::StatusOr<DecodeResult> result =
      DecodeJson(*json, applied_hash, limits, known_hash, snapshot);
  if (!result.ok()) {
    absl::Status status = result.status();
    if (!status.GetPayload(kRejectCausePayload).has_value()) {
      status = WithCause(status, CauseOf(status, RejectCause::kShape));
    }
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

absl::string_view RejectCauseName(RejectCause cause) {
  switch (cause) {
    case RejectCause::kTooLarge:
      return "too_large";
    case RejectCause::kGzip:
      return "gzip";
    case RejectCause::kJson:
      return "json";
    case RejectCause::kShape:
      return "shape";
    case RejectCause::kEmptyConfig:
      return "empty_config";
    case RejectCause::kOther:
      break;
  }
  return "other";
}

Rejected RejectionOf(const absl::Status& status) {
  Rejected rejected;
  if (const auto hash = status.GetPayload(kRejectedHashPayload); hash.has_value()) {
    rejected.config_hash = std::string(*hash);
  }
  int cause = 0;
  if (const auto tag = status.GetPayload(kRejectCausePayload);
      tag.has_value() && absl::SimpleAtoi(std::string(*tag), &cause) && cause >= 0 &&
      static_cast<size_t>(cause) < kRejectCauseCount) {
    rejected.cause = static_cast<RejectCause>(cause);
  }
  return rejected;
}

}  // namespace tether::config

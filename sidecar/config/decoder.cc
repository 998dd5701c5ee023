#include "sidecar/config/decoder.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "protocol/constants.h"
#include "protocol/kong_hash.h"
#include "rapidjson/document.h"
#include "sidecar/config/collection_hasher.h"
#include "sidecar/config/inflate.h"
#include "sidecar/config/json_parse.h"
#include "sidecar/config/message_reader.h"
#include "sidecar/config/text_window.h"

namespace tether::config {
namespace {

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

// RapidJSON stores string lengths as 32-bit, so a larger document could not be represented.
constexpr size_t kMaxDocumentBytes = UINT32_MAX - 1;

// Kong's update() steps 1 and 2 (kong-protocol.md §3.6) when the message has no config_hash (Kong
// 2.x): the hashes, computed over a tree of config_table. Only such CPs pay for the tree.
absl::StatusOr<protocol::ConfigHashes> ComputeHashes(absl::string_view config_table,
                                                     int max_depth) {
  RowParser parser(max_depth);
  absl::StatusOr<const rapidjson::Value*> tree = parser.Parse(config_table);
  if (!tree.ok()) {
    return absl::InternalError(
        absl::StrCat("decoder: config_table does not parse again: ", tree.status().message()));
  }
  return protocol::CalculateConfigHash(**tree);
}

// The decode of `frame` into `snapshot`. Sets `known_hash` as soon as the message's config_hash is
// read, so the caller can attach it to a later error.
absl::StatusOr<DecodeResult> DecodeMessage(absl::string_view frame, const DecodeLimits& limits,
                                           absl::string_view applied_hash, const Snapshot* previous,
                                           std::string& known_hash, Snapshot& snapshot) {
  const size_t max_inflated = std::min(limits.max_inflated_bytes, kMaxDocumentBytes);
  // A frame whose gzip trailer states no plausible size goes through the window: it may be a bomb.
  const std::optional<size_t> stated_size = TrailerSize(frame);
  TextWindow window(frame, max_inflated, stated_size.value_or(SIZE_MAX));
  MessageFields fields;
  // Destroyed before `snapshot`, whose rows its helper reads.
  CollectionHasher hasher(limits.max_json_depth, stated_size.value_or(frame.size()));
  absl::Status read = ReadMessage(window, limits, previous, snapshot, hasher, fields);
  // Errors in the order a decode of the whole inflated text finds them.
  window.Drain();
  if (const absl::Status& error = window.inflate_error(); !error.ok()) {
    return WithCause(error, CauseOf(error, RejectCause::kGzip));
  }
  if (!window.text_error().ok()) read = window.text_error();
  if (!read.ok()) return WithCause(read, CauseOf(read, RejectCause::kJson));
  snapshot.decoded_bytes = window.inflated();
  if (!fields.is_object) return absl::InvalidArgumentError("message is not a json object");
  if (!fields.type.has_value()) return absl::InvalidArgumentError("message: missing string type");
  // §3.1: Kong's DP silently ignores other message types.
  if (*fields.type != "reconfigure") {
    DecodeResult result;
    result.kind = DecodeResult::Kind::kIgnoredType;
    result.message_type = *std::move(fields.type);
    return result;
  }
  if (fields.has_config_hash) {
    if (!fields.config_hash.has_value() || !IsLowerHexHash(*fields.config_hash)) {
      return absl::InvalidArgumentError("config_hash: want 32 lowercase hex chars");
    }
    known_hash = *fields.config_hash;
  }
  switch (fields.config_table) {
    case MessageFields::Table::kAbsent:
      return absl::InvalidArgumentError("missing config_table");
    case MessageFields::Table::kNotObject:
      return absl::InvalidArgumentError("config_table is not an object");
    case MessageFields::Table::kObject:
      break;
  }
  if (!fields.hashes_error.ok()) return fields.hashes_error;

  // Kong's update() steps 1 and 2 (§3.6): compute the hashes when the message has no config_hash,
  // then fill missing `hashes` keys with 32 zeros. Hashes from the message are trusted, not
  // recomputed: the CP hashes its Lua table, which can differ from ours for numbers with more
  // than 14 significant digits (§3.5, caveat).
  std::string config_hash;
  std::map<std::string, std::string> hashes;
  if (fields.has_config_hash) {
    config_hash = *std::move(fields.config_hash);
    hashes = std::move(fields.hashes);
  } else {
    // The only use of the whole text: the message is inflated again for it.
    absl::StatusOr<std::string> text = Inflate(frame, max_inflated);
    if (!text.ok()) return text.status();
    absl::StatusOr<protocol::ConfigHashes> computed = ComputeHashes(
        absl::string_view(*text).substr(fields.table_begin, fields.table_end - fields.table_begin),
        limits.max_json_depth);
    if (!computed.ok()) return computed.status();
    config_hash = std::move(computed->config_hash);
    hashes = std::move(computed->hashes);
  }
  hashes.try_emplace(std::string(kConfigHashKey), protocol::kEmptyConfigHash);
  for (absl::string_view section : protocol::kHashedSections) {
    hashes.try_emplace(std::string(section), protocol::kEmptyConfigHash);
  }
  // Kong reports the computed hash with errors too, so a later rejection names it either way.
  known_hash = config_hash;

  DecodeResult result;
  result.config_hash = config_hash;
  // §3.6 step 3: a config already applied is not used again (its entities were read anyway:
  // the hash may come after them).
  if (config_hash == applied_hash) {
    result.kind = DecodeResult::Kind::kSameHash;
    return result;
  }
  if (fields.table_keys > limits.max_types) {
    return absl::ResourceExhaustedError(absl::StrCat("config_table has ", fields.table_keys,
                                                     " keys, more than ", limits.max_types,
                                                     " (--cluster-max-entity-types)"));
  }
  if (fields.entities > limits.max_entities) {
    return absl::ResourceExhaustedError(absl::StrCat("config_table has ", fields.entities,
                                                     " entities, more than ", limits.max_entities,
                                                     " (--cluster-max-entities)"));
  }
  if (!fields.table_error.ok()) return fields.table_error;
  if (absl::Status status = hasher.Finish(); !status.ok()) return status;

  snapshot.config_hash = std::move(config_hash);
  snapshot.hashes = std::move(hashes);
  snapshot.cp_timestamp = fields.timestamp;
  snapshot.added_bytes = 0;
  for (const TextBlock& block : snapshot.blocks()) snapshot.added_bytes += block->size();
  if (fields.views_previous) {
    // Entities and collections taken over from `previous` view its text.
    std::vector<TextBlock> blocks = snapshot.blocks();
    blocks.insert(blocks.end(), previous->blocks().begin(), previous->blocks().end());
    snapshot.SetBlocks(std::move(blocks));
  }
  const auto taken_over = [&](const std::string& type, const CollectionPtr& collection) {
    if (!fields.views_previous) return false;
    const auto before = previous->types.find(type);
    return before != previous->types.end() && before->second == collection;
  };
  for (auto& [type, collection] : snapshot.types) {
    if (!taken_over(type, collection)) snapshot.added_bytes += collection->OverheadBytes();
    if (protocol::IsHashedSection(type)) {
      // Kong's sections carry the message's hash. One taken over has the previous message's,
      // for the same rows: the same unless a CP hashed them differently (§3.5, caveat).
      const std::string& hash = snapshot.hashes.at(type);
      if (auto built = fields.hashed_sections.find(type); built != fields.hashed_sections.end()) {
        built->second->hash = hash;
      } else if (collection->hash != hash) {
        auto copy = std::make_shared<EntityCollection>(*collection);
        copy->hash = hash;
        collection = std::move(copy);
      }
    } else if (type != kConfigHashKey) {
      // A collection literally named "config" keeps its own hash but cannot take Kong's key.
      snapshot.hashes[type] = collection->hash;
    }
  }
  result.kind = DecodeResult::Kind::kNewSnapshot;
  return result;
}

}  // namespace

absl::StatusOr<DecodeResult> DecodeReconfigure(absl::string_view frame,
                                               absl::string_view applied_hash,
                                               const DecodeLimits& limits, Source source,
                                               absl::Time received_at, const Snapshot* previous) {
  const absl::Time start = absl::Now();
  auto snapshot = std::make_shared<Snapshot>();
  std::string known_hash;
  absl::StatusOr<DecodeResult> result =
      DecodeMessage(frame, limits, applied_hash, previous, known_hash, *snapshot);
  if (!result.ok()) {
    absl::Status status = result.status();
    if (!status.GetPayload(kRejectCausePayload).has_value()) {
      status = WithCause(status, CauseOf(status, RejectCause::kShape));
    }
    if (!known_hash.empty()) status.SetPayload(kRejectedHashPayload, absl::Cord(known_hash));
    return status;
  }
  if (result->kind == DecodeResult::Kind::kNewSnapshot) {
    snapshot->source = source;
    snapshot->received_at = received_at;
    snapshot->compressed_bytes = frame.size();
    // Last, so it covers the whole decode.
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

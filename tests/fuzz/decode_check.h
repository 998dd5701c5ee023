// The checks both decoder harnesses run on one frame: DecodeReconfigure must return a result or
// a Status with a documented code, never crash, and a decoded snapshot must survive a round trip.
//
// Threading: single-threaded, as libFuzzer calls the harness.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "protocol/constants.h"
#include "protocol/gzip.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "sidecar/config/decoder.h"
#include "tests/fuzz/fuzz_check.h"

namespace tether::fuzz {

// A bomb must stop at this cap, far below -rss_limit_mb; the depth cap is production's, so the
// recursive walks after the parse run as deep as they do in tether.
constexpr size_t kMaxInflatedBytes = size_t{4} << 20;

inline absl::StatusOr<config::DecodeResult> Decode(absl::string_view frame,
                                                   size_t max_inflated_bytes) {
  config::DecodeLimits limits;
  limits.max_inflated_bytes = max_inflated_bytes;
  return config::DecodeReconfigure(frame, protocol::kEmptyConfigHash, limits,
                                   config::Source::kControlPlane, absl::FromUnixSeconds(1));
}

// What a snapshot must hold whatever the input was.
inline void CheckSnapshot(const config::Snapshot& snapshot) {
  Require(IsHash(snapshot.config_hash), "config_hash is not 32 lowercase hex chars");
  Require(snapshot.hashes.count("config") == 1, "hashes lack config");
  for (absl::string_view section : protocol::kHashedSections) {
    Require(snapshot.hashes.count(std::string(section)) == 1, "hashes lack a kong section");
  }
  for (const auto& [type, collection] : snapshot.types) {
    Require(collection->IndexSize() == collection->items.size(), "index and items differ in size");
    Require(IsHash(collection->hash), "collection hash is not 32 lowercase hex chars");
    for (size_t i = 0; i < collection->items.size(); ++i) {
      const config::Entity& entity = collection->items[i];
      Require(!entity.id.empty(), "entity with an empty id");
      Require(collection->Find(entity.id) == &entity, "index does not find its entity");
      Require(snapshot.Find(type, entity.id) == &entity, "snapshot does not find its entity");
    }
  }
}

// The reconfigure message that carries `snapshot` as served: its metadata and entity JSON
// verbatim, with its hashes stated so that none is recomputed.
inline std::string Reencode(const config::Snapshot& snapshot) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  const auto raw = [&writer](absl::string_view json) {
    writer.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  };
  const auto key = [&writer](const std::string& name) {
    writer.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  };
  writer.StartObject();
  key("type");
  writer.String("reconfigure");
  key("config_hash");
  writer.String(snapshot.config_hash.data(),
                static_cast<rapidjson::SizeType>(snapshot.config_hash.size()));
  key("hashes");
  writer.StartObject();
  for (const auto& [name, hash] : snapshot.hashes) {
    key(name);
    writer.String(hash.data(), static_cast<rapidjson::SizeType>(hash.size()));
  }
  writer.EndObject();
  key("config_table");
  writer.StartObject();
  for (const auto& [name, json] : snapshot.metadata) {
    key(name);
    raw(json);
  }
  for (const auto& [type, collection] : snapshot.types) {
    key(type);
    writer.StartArray();
    for (const config::Entity& entity : collection->items) raw(entity.json);
    writer.EndArray();
  }
  writer.EndObject();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Decoding what a snapshot serves gives the same snapshot: the entity JSON tether hands to
// proxies means what the CP sent, and the hashes agree with it.
inline void CheckRoundTrip(const config::Snapshot& first) {
  absl::StatusOr<config::DecodeResult> again =
      // Metadata is written out again, which can be longer than the input ("-0" becomes "-0.0").
      Decode(protocol::Gzip(Reencode(first)), 4 * kMaxInflatedBytes);
  if (!again.ok()) Fail(std::string("re-encoded snapshot rejected: ") + again.status().ToString());
  Require(again->kind == config::DecodeResult::Kind::kNewSnapshot, "re-encoded: no new snapshot");
  const config::Snapshot& second = *again->snapshot;
  Require(second.config_hash == first.config_hash, "re-encoded: config_hash differs");
  Require(second.hashes == first.hashes, "re-encoded: hashes differ");
  Require(second.metadata == first.metadata, "re-encoded: metadata differs");
  Require(second.types.size() == first.types.size(), "re-encoded: entity types differ");
  for (const auto& [type, collection] : first.types) {
    const auto it = second.types.find(type);
    Require(it != second.types.end(), "re-encoded: an entity type is missing");
    Require(it->second->hash == collection->hash, "re-encoded: collection hash differs");
    Require(it->second->items.size() == collection->items.size(), "re-encoded: entity count");
    for (size_t i = 0; i < collection->items.size(); ++i) {
      const config::Entity& a = collection->items[i];
      const config::Entity& b = it->second->items[i];
      Require(a.id == b.id && a.json == b.json, "re-encoded: entity differs");
    }
  }
}

// Decodes `frame` and checks the outcome against decoder.h's contract.
inline void CheckDecode(absl::string_view frame) {
  absl::StatusOr<config::DecodeResult> result = Decode(frame, kMaxInflatedBytes);
  if (!result.ok()) {
    const absl::StatusCode code = result.status().code();
    Require(
        code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kResourceExhausted,
        "error code other than InvalidArgument or ResourceExhausted");
    const std::string rejected = config::RejectionOf(result.status()).config_hash;
    Require(rejected.empty() || IsHash(rejected), "rejected hash is not 32 lowercase hex chars");
    return;
  }
  switch (result->kind) {
    case config::DecodeResult::Kind::kIgnoredType:
      Require(result->snapshot == nullptr, "ignored type with a snapshot");
      return;
    case config::DecodeResult::Kind::kSameHash:
      Require(result->snapshot == nullptr, "same hash with a snapshot");
      Require(result->config_hash == protocol::kEmptyConfigHash, "same hash, other hash");
      return;
    case config::DecodeResult::Kind::kNewSnapshot:
      Require(result->snapshot != nullptr, "new snapshot without a snapshot");
      Require(result->config_hash == result->snapshot->config_hash, "result hash differs");
      CheckSnapshot(*result->snapshot);
      CheckRoundTrip(*result->snapshot);
      return;
  }
  Fail("unknown result kind");
}

}  // namespace tether::fuzz

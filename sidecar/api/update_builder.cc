#include "sidecar/api/update_builder.h"

#include <google/protobuf/io/coded_stream.h>
#include <grpcpp/support/slice.h>

#include <cassert>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sidecar/api/proto_convert.h"

namespace tether::api {
namespace {

using ::google::protobuf::io::CodedOutputStream;

// Kong's whole-config key in Snapshot::hashes (kong-protocol.md §3.2); every subscriber gets it,
// whatever its filter, because it names the config the update brings it to.
constexpr absl::string_view kConfigHashKey = "config";

// Wire size of a length-delimited field (string, bytes, message) with a field number below 16,
// so a one-byte tag; proto3 leaves out empty strings. Exact, so the chunk budget is too.
size_t LengthDelimitedSize(size_t length) {
  return 1 + CodedOutputStream::VarintSize64(length) + length;
}
size_t StringFieldSize(absl::string_view value) {
  return value.empty() ? 0 : LengthDelimitedSize(value.size());
}

// What one `upserts` element adds to a serialised WatchResponse.
size_t UpsertSize(absl::string_view type, absl::string_view id, absl::string_view json) {
  return LengthDelimitedSize(StringFieldSize(type) + StringFieldSize(id) + StringFieldSize(json));
}

// What one `removals` element adds to a serialised WatchResponse.
size_t RemovalSize(absl::string_view type, absl::string_view id) {
  return LengthDelimitedSize(StringFieldSize(type) + StringFieldSize(id));
}

// The fields every chunk of one update repeats: hash, hashes, kind, time, source, types. A client
// can act on any chunk's header alone; they are small next to the entities.
v1::WatchResponse MakeHeader(const config::Snapshot& target, const config::TypeFilter& filter) {
  v1::WatchResponse header;
  header.set_config_hash(target.config_hash);
  for (const auto& [key, hash] : target.hashes) {
    if (key == kConfigHashKey || filter.Matches(key)) (*header.mutable_hashes())[key] = hash;
  }
  if (IsSet(target.received_at)) SetTimestamp(target.received_at, header.mutable_received_at());
  header.set_source(ToProto(target.source));
  for (const auto& [type, collection] : target.types) {
    if (filter.Matches(type)) header.add_entity_types(type);
  }
  return header;
}

// Packs entities into chunks under the byte budget, serialising each chunk once.
//
// A chunk is serialised only when the next one starts or the update ends, because only then is it
// known whether it is the last. Sizes are computed exactly from the wire format, so a chunk never
// exceeds the budget, with two exceptions that cannot be split: an entity too big for an empty
// chunk goes alone in its own chunk, and the first chunk carries all the metadata however big it
// is (the client's receive limit, not ours, then decides; in practice a Kong row or metadata key
// is far below 4 MiB).
class ChunkWriter {
 public:
  // `metadata` goes on the first chunk only; may be empty.
  ChunkWriter(v1::WatchResponse header, std::map<std::string, std::string> metadata,
              size_t max_chunk_bytes, Update& update)
      : header_(std::move(header)),
        metadata_(std::move(metadata)),
        max_chunk_bytes_(max_chunk_bytes),
        update_(update) {
    StartChunk();
  }

  void AddUpsert(absl::string_view type, const config::Entity& entity) {
    MakeRoom(UpsertSize(type, entity.id, entity.json));
    v1::Entity* upsert = chunk_.add_upserts();
    upsert->set_type(std::string(type));
    upsert->set_id(entity.id.data(), entity.id.size());
    upsert->set_json(entity.json.data(), entity.json.size());
    ++update_.upserts;
  }

  void AddRemoval(absl::string_view type, absl::string_view id) {
    MakeRoom(RemovalSize(type, id));
    v1::EntityRef* removal = chunk_.add_removals();
    removal->set_type(std::string(type));
    removal->set_id(std::string(id));
    ++update_.removals;
  }

  // Serialises the pending chunk as the last one.
  void Finish() { Serialise(/*last_chunk=*/true); }

 private:
  void StartChunk() {
    chunk_ = header_;
    chunk_.set_chunk_index(static_cast<uint32_t>(update_.chunks.size()));
    if (update_.chunks.empty()) {
      for (const auto& [key, json] : metadata_) (*chunk_.mutable_metadata())[key] = json;
    }
    // Counted as if last: last_chunk costs its two bytes only on the last chunk, so this is an
    // upper bound for the others.
    chunk_.set_last_chunk(true);
    chunk_bytes_ = chunk_.ByteSizeLong();
    chunk_items_ = 0;
  }

  void MakeRoom(size_t item_bytes) {
    // The first chunk's metadata counts as content: rather than overflow with it, the item
    // starts the next chunk, which has no metadata.
    const bool has_content = chunk_items_ > 0 || (update_.chunks.empty() && !metadata_.empty());
    if (has_content && chunk_bytes_ + item_bytes > max_chunk_bytes_) {
      Serialise(/*last_chunk=*/false);
      StartChunk();
    }
    chunk_bytes_ += item_bytes;
    ++chunk_items_;
  }

  void Serialise(bool last_chunk) {
    chunk_.set_last_chunk(last_chunk);
    const size_t size = chunk_.ByteSizeLong();
    assert(size <= chunk_bytes_);
    // Serialised straight into the slice gRPC will send (as grpc::SerializationTraits does for
    // small messages): one copy of the entity bytes, and copies of the ByteBuffer share it.
    grpc::Slice slice(size);
    uint8_t* end = chunk_.SerializeWithCachedSizesToArray(const_cast<uint8_t*>(slice.begin()));
    assert(end == slice.end());
    (void)end;
    update_.chunks.emplace_back(&slice, 1);
    update_.bytes += size;
    // Frees this chunk's entity copies before the next chunk is built.
    chunk_.Clear();
  }

  const v1::WatchResponse header_;
  const std::map<std::string, std::string> metadata_;
  const size_t max_chunk_bytes_;
  Update& update_;
  v1::WatchResponse chunk_;
  // Serialised size of chunk_ with last_chunk set; exact, from the wire format.
  size_t chunk_bytes_ = 0;
  size_t chunk_items_ = 0;
};

}  // namespace

UpdatePtr BuildFullUpdate(const config::Snapshot& snapshot, const config::TypeFilter& filter,
                          size_t max_chunk_bytes) {
  auto update = std::make_shared<Update>();
  update->config_hash = snapshot.config_hash;
  update->full = true;
  v1::WatchResponse header = MakeHeader(snapshot, filter);
  header.set_full(true);
  ChunkWriter writer(std::move(header), snapshot.metadata, max_chunk_bytes, *update);
  for (const auto& [type, collection] : snapshot.types) {
    if (!filter.Matches(type)) continue;
    for (const config::Entity& entity : collection->items) writer.AddUpsert(type, entity);
  }
  writer.Finish();
  return update;
}

UpdatePtr BuildDeltaUpdate(const config::Snapshot& base, const config::Snapshot& target,
                           const config::TypeFilter& filter, size_t max_chunk_bytes) {
  const config::Delta delta = config::ComputeDelta(base, target, filter);
  if (delta.empty()) return nullptr;
  auto update = std::make_shared<Update>();
  update->config_hash = target.config_hash;
  update->base_hash = base.config_hash;
  update->full = false;
  v1::WatchResponse header = MakeHeader(target, filter);
  header.set_full(false);
  header.set_base_hash(base.config_hash);
  std::map<std::string, std::string> metadata;
  if (delta.metadata_changed) {
    // The target's whole metadata, so a client may simply replace its own, plus an empty value
    // for each key the target lacks: empty is never valid JSON, so it can only mean "removed",
    // and it tells a delta that removes every key from a delta that changes none.
    metadata = target.metadata;
    for (const auto& [key, json] : base.metadata) metadata.try_emplace(key);
  }
  ChunkWriter writer(std::move(header), std::move(metadata), max_chunk_bytes, *update);
  for (const config::EntityChange& change : delta.upserts) {
    writer.AddUpsert(change.type, *change.entity);
  }
  for (const config::EntityRemoval& removal : delta.removals) {
    writer.AddRemoval(removal.type, removal.id);
  }
  writer.Finish();
  return update;
}

absl::StatusOr<std::vector<v1::WatchResponse>> ParseUpdate(const Update& update) {
  std::vector<v1::WatchResponse> chunks;
  chunks.reserve(update.chunks.size());
  for (size_t i = 0; i < update.chunks.size(); ++i) {
    grpc::Slice slice;
    if (grpc::Status status = update.chunks[i].DumpToSingleSlice(&slice); !status.ok()) {
      return absl::InternalError(
          absl::StrCat("read update chunk ", i, ": ", status.error_message()));
    }
    if (!chunks.emplace_back().ParseFromArray(slice.begin(), static_cast<int>(slice.size()))) {
      return absl::InternalError(absl::StrCat("parse update chunk ", i, " of ", slice.size(),
                                              " bytes as tether.v1.WatchResponse"));
    }
  }
  return chunks;
}

}  // namespace tether::api

#include "sidecar/api/update_builder.h"

#include <google/protobuf/io/coded_stream.h>
#include <grpcpp/support/slice.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

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

// The snapshot's text blocks as gRPC slices that hold a reference to their block, so that a chunk
// can send entity JSON from where the snapshot keeps it, without copying it, and the bytes stay
// alive as long as gRPC holds any slice of them, whatever happens to the snapshot meanwhile.
class BlockSlices {
 public:
  explicit BlockSlices(const config::Snapshot& snapshot) {
    for (const config::TextBlock& block : snapshot.blocks()) blocks_.push_back({block, {}});
    std::sort(blocks_.begin(), blocks_.end(),
              [](const Entry& a, const Entry& b) { return a.block->data() < b.block->data(); });
  }

  // A slice of exactly `text`, or nullopt when `text` is not in one of the blocks.
  std::optional<grpc::Slice> Of(absl::string_view text) {
    auto it = std::upper_bound(blocks_.begin(), blocks_.end(), text.data(),
                               [](const char* at, const Entry& e) { return at < e.block->data(); });
    if (it == blocks_.begin()) return std::nullopt;
    Entry& entry = *--it;
    const size_t offset = static_cast<size_t>(text.data() - entry.block->data());
    if (offset + text.size() > entry.block->size()) return std::nullopt;
    if (!entry.slice.has_value()) {
      // The slice owns a reference to the block; gRPC frees it with the slice's last reference.
      auto* owner = new config::TextBlock(entry.block);
      entry.slice.emplace(
          const_cast<char*>(entry.block->data()), entry.block->size(),
          [](void* p) { delete static_cast<config::TextBlock*>(p); }, owner);
    }
    return entry.slice->sub(offset, offset + text.size());
  }

 private:
  struct Entry {
    config::TextBlock block;
    std::optional<grpc::Slice> slice;  // made on first use
  };
  std::vector<Entry> blocks_;
};

// Packs entities into chunks under the byte budget, serialising each chunk once.
//
// A chunk is serialised only when the next one starts or the update ends, because only then is it
// known whether it is the last. Sizes are computed exactly from the wire format, so a chunk never
// exceeds the budget, with two exceptions that cannot be split: an entity too big for an empty
// chunk goes alone in its own chunk, and the first chunk carries all the metadata however big it
// is (the client's receive limit, not ours, then decides; in practice a Kong row or metadata key
// is far below 4 MiB).
//
// Upserts do not go through the protobuf message: each is written as its wire bytes, a small
// prefix (field tag, lengths, type, id) copied into one buffer per chunk, and the entity JSON as a
// slice of the snapshot's own text (BlockSlices). A chunk is then the header's serialisation
// followed by those pieces; protobuf reads fields in any order, and keeps repeated ones in theirs.
class ChunkWriter {
 public:
  // `metadata` goes on the first chunk only; may be empty. Upserts' JSON is sent from `source`'s
  // text where it lies in it.
  ChunkWriter(v1::WatchResponse header, std::map<std::string, std::string> metadata,
              const config::Snapshot& source, size_t max_chunk_bytes, Update& update)
      : header_(std::move(header)),
        metadata_(std::move(metadata)),
        max_chunk_bytes_(max_chunk_bytes),
        update_(update),
        text_(source) {
    StartChunk();
  }

  void AddUpsert(absl::string_view type, const config::Entity& entity) {
    MakeRoom(UpsertSize(type, entity.id, entity.json));
    // tether.v1.WatchResponse.upserts (5) holding a tether.v1.Entity: type (1), id (2), json (3).
    const size_t body = StringFieldSize(type) + StringFieldSize(entity.id) +
                        StringFieldSize(entity.json) - entity.json.size();
    const size_t begin = prefixes_.size();
    AppendTag(5);
    AppendVarint(body + entity.json.size());
    AppendString(1, type);
    AppendString(2, entity.id);
    AppendTag(3);
    AppendVarint(entity.json.size());
    std::optional<grpc::Slice> json = text_.Of(entity.json);
    if (!json.has_value()) prefixes_.append(entity.json.data(), entity.json.size());  // copied
    upserts_.push_back(Upsert{begin, prefixes_.size(), std::move(json)});
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

  void AppendTag(int field) { prefixes_.push_back(static_cast<char>(field << 3 | 2)); }
  void AppendVarint(size_t value) {
    char bytes[10];
    uint8_t* end =
        CodedOutputStream::WriteVarint64ToArray(value, reinterpret_cast<uint8_t*>(bytes));
    prefixes_.append(bytes, reinterpret_cast<char*>(end) - bytes);
  }
  // A string field; proto3 leaves out empty ones.
  void AppendString(int field, absl::string_view value) {
    if (value.empty()) return;
    AppendTag(field);
    AppendVarint(value.size());
    prefixes_.append(value.data(), value.size());
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
    const size_t header_size = chunk_.ByteSizeLong();
    std::vector<grpc::Slice> pieces;
    pieces.reserve(1 + 2 * upserts_.size());
    // Serialised straight into the slice gRPC will send (as grpc::SerializationTraits does for
    // small messages); copies of the ByteBuffer share every piece.
    grpc::Slice& header = pieces.emplace_back(header_size);
    uint8_t* end = chunk_.SerializeWithCachedSizesToArray(const_cast<uint8_t*>(header.begin()));
    assert(end == header.end());
    (void)end;
    size_t size = header_size;
    if (!upserts_.empty()) {
      auto* prefixes = new std::string(std::move(prefixes_));
      const grpc::Slice all(
          prefixes->data(), prefixes->size(), [](void* p) { delete static_cast<std::string*>(p); },
          prefixes);
      for (Upsert& upsert : upserts_) {
        pieces.push_back(all.sub(upsert.begin, upsert.end));
        size += upsert.end - upsert.begin;
        if (upsert.json.has_value()) {
          size += upsert.json->size();
          pieces.push_back(*std::move(upsert.json));
        }
      }
    }
    assert(size <= chunk_bytes_);
    update_.chunks.emplace_back(pieces.data(), pieces.size());
    update_.bytes += size;
    chunk_.Clear();
    prefixes_ = std::string();
    upserts_.clear();
  }

  // One upsert's wire bytes: prefixes_[begin, end), then `json` unless it was copied in there.
  struct Upsert {
    size_t begin;
    size_t end;
    std::optional<grpc::Slice> json;
  };

  const v1::WatchResponse header_;
  const std::map<std::string, std::string> metadata_;
  const size_t max_chunk_bytes_;
  Update& update_;
  BlockSlices text_;
  v1::WatchResponse chunk_;  // the chunk's header, metadata and removals
  std::string prefixes_;     // the chunk's upserts but their JSON
  std::vector<Upsert> upserts_;
  // Serialised size of the chunk with last_chunk set; exact, from the wire format.
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
  ChunkWriter writer(std::move(header), snapshot.metadata, snapshot, max_chunk_bytes, *update);
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
  ChunkWriter writer(std::move(header), std::move(metadata), target, max_chunk_bytes, *update);
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

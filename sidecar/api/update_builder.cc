// Builds the WatchResponse chunks of full and delta updates (update_builder.h), writing each
// chunk's wire format straight into the slice gRPC sends, so that fan-out of a large config costs
// one copy of its rows.
#include "sidecar/api/update_builder.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/support/slice.h>

#include <cassert>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "sidecar/api/proto_convert.h"

namespace tether::api {
namespace {

using ::google::protobuf::internal::WireFormatLite;
using ::google::protobuf::io::CodedOutputStream;

// Kong's whole-config key in Snapshot::hashes (kong-protocol.md §3.2); every subscriber gets it,
// whatever its filter, because it names the config the update brings it to.
constexpr absl::string_view kConfigHashKey = "config";

// One writer serves both element types of a chunk: an EntityRef is an Entity without its JSON.
static_assert(int{v1::EntityRef::kTypeFieldNumber} == int{v1::Entity::kTypeFieldNumber});
static_assert(int{v1::EntityRef::kIdFieldNumber} == int{v1::Entity::kIdFieldNumber});

// Wire size of a length-delimited field (string, bytes, message) holding `length` bytes.
size_t LengthDelimitedFieldSize(int field, size_t length) {
  return WireFormatLite::TagSize(field, WireFormatLite::TYPE_BYTES) +
         WireFormatLite::LengthDelimitedSize(length);
}

// proto3 leaves out empty strings.
size_t StringFieldSize(int field, absl::string_view value) {
  return value.empty() ? 0 : LengthDelimitedFieldSize(field, value.size());
}

uint8_t* WriteLengthDelimitedHead(int field, size_t length, uint8_t* target) {
  target =
      WireFormatLite::WriteTagToArray(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED, target);
  return CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(length), target);
}

uint8_t* WriteStringField(int field, absl::string_view value, uint8_t* target) {
  if (value.empty()) return target;
  target = WriteLengthDelimitedHead(field, value.size(), target);
  return CodedOutputStream::WriteRawToArray(value.data(), static_cast<int>(value.size()), target);
}

// One element of a chunk's `upserts` (an Entity) or `removals` (an EntityRef, json empty), held
// as views until the chunk is written: the rows are copied once, straight into the slice.
struct ChunkItem {
  ChunkItem(int field, absl::string_view type, absl::string_view id, absl::string_view json)
      : field(field),
        type(type),
        id(id),
        json(json),
        message_bytes(StringFieldSize(v1::Entity::kTypeFieldNumber, type) +
                      StringFieldSize(v1::Entity::kIdFieldNumber, id) +
                      StringFieldSize(v1::Entity::kJsonFieldNumber, json)) {}

  // What it adds to a serialised WatchResponse. Exact, so the chunk budget is too.
  size_t WireSize() const { return LengthDelimitedFieldSize(field, message_bytes); }

  // Writes it as protobuf would (fields in number order) and returns the end.
  uint8_t* Write(uint8_t* target) const {
    target = WriteLengthDelimitedHead(field, message_bytes, target);
    target = WriteStringField(v1::Entity::kTypeFieldNumber, type, target);
    target = WriteStringField(v1::Entity::kIdFieldNumber, id, target);
    return WriteStringField(v1::Entity::kJsonFieldNumber, json, target);
  }

  int field;  // v1::WatchResponse::kUpsertsFieldNumber or kRemovalsFieldNumber
  absl::string_view type;
  absl::string_view id;
  absl::string_view json;
  size_t message_bytes;  // the element's own fields, without its tag and length
};

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
//
// Each chunk is written straight into the slice gRPC sends: protobuf serialises the header
// fields, then the upserts and removals follow, encoded here from views of the rows (parsers
// accept fields in any order and append each occurrence of a repeated field). So the entity
// bytes are copied once, with no per-entity allocation. The views point into the snapshot and
// the delta, which outlive the writer.
class ChunkWriter {
 public:
  // `metadata` goes on the first chunk only; may be empty.
  ChunkWriter(v1::WatchResponse header, std::map<std::string, std::string> metadata,
              size_t max_chunk_bytes, Update& update)
      : chunk_header_(std::move(header)), max_chunk_bytes_(max_chunk_bytes), update_(update) {
    for (auto& [key, json] : metadata) (*chunk_header_.mutable_metadata())[key] = std::move(json);
    StartChunk();
  }

  void AddUpsert(absl::string_view type, const config::Entity& entity) {
    Add(ChunkItem(v1::WatchResponse::kUpsertsFieldNumber, type, entity.id, entity.json));
    ++update_.upserts;
  }

  void AddRemoval(absl::string_view type, absl::string_view id) {
    Add(ChunkItem(v1::WatchResponse::kRemovalsFieldNumber, type, id, absl::string_view()));
    ++update_.removals;
  }

  // Serialises the pending chunk as the last one.
  void Finish() { Serialise(/*last_chunk=*/true); }

 private:
  void StartChunk() {
    chunk_header_.set_chunk_index(static_cast<uint32_t>(update_.chunks.size()));
    if (!update_.chunks.empty()) chunk_header_.clear_metadata();
    // Counted as if last: last_chunk costs its two bytes only on the last chunk, so this is an
    // upper bound for the others.
    chunk_header_.set_last_chunk(true);
    header_bytes_ = chunk_header_.ByteSizeLong();
    items_bytes_ = 0;
  }

  void Add(const ChunkItem& item) {
    const size_t item_bytes = item.WireSize();
    // The first chunk's metadata counts as content: rather than overflow with it, the item
    // starts the next chunk, which has no metadata.
    const bool has_content = !items_.empty() || !chunk_header_.metadata().empty();
    if (has_content && header_bytes_ + items_bytes_ + item_bytes > max_chunk_bytes_) {
      Serialise(/*last_chunk=*/false);
      StartChunk();
    }
    items_bytes_ += item_bytes;
    items_.push_back(item);
  }

  void Serialise(bool last_chunk) {
    chunk_header_.set_last_chunk(last_chunk);
    const size_t header_bytes = chunk_header_.ByteSizeLong();
    assert(header_bytes <= header_bytes_);
    const size_t size = header_bytes + items_bytes_;
    grpc::Slice slice(size);
    uint8_t* target = const_cast<uint8_t*>(slice.begin());
    target = chunk_header_.SerializeWithCachedSizesToArray(target);
    for (const ChunkItem& item : items_) target = item.Write(target);
    assert(target == slice.end());
    (void)target;
    update_.chunks.emplace_back(&slice, 1);
    update_.bytes += size;
    items_.clear();
  }

  // The current chunk's header fields: the update's, plus its index, last_chunk, and the
  // metadata while it is the first.
  v1::WatchResponse chunk_header_;
  const size_t max_chunk_bytes_;
  Update& update_;
  // The current chunk's upserts and removals, in order; reused from chunk to chunk.
  std::vector<ChunkItem> items_;
  // The current chunk's serialised size with last_chunk set, in two parts; exact, from the wire
  // format.
  size_t header_bytes_ = 0;
  size_t items_bytes_ = 0;
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

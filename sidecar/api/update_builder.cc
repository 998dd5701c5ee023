// Builds the WatchResponse chunks of full and delta updates (update_builder.h): lays the rows out
// in chunks up front, and writes each chunk's wire format straight into the slice gRPC sends when
// a stream needs it, so that fan-out of a large config costs one copy of the rows in flight.
#include "sidecar/api/update_builder.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/support/slice.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "sidecar/api/proto_convert.h"
#include "sidecar/common/check.h"

namespace tether::api {

// The rows are the collections' (a full update) followed by the delta's upserts and removals (a
// delta update); an update has one or the other.
struct UpdateChunks::Source {
  // Serialised once (deterministically, so a chunk written again has the same bytes): every
  // chunk's fields but chunk_index, last_chunk and metadata; and the first chunk's metadata,
  // maybe empty.
  std::string header_wire;
  std::string metadata_wire;
  // The target's collections the filter selects, in order.
  std::vector<std::pair<absl::string_view, const config::EntityCollection*>> collections;
  config::Delta delta;
  // What the collections and the delta's rows view: the target, and a delta's base.
  config::SnapshotPtr target;
  config::SnapshotPtr base;
};

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

// `message` serialised with maps in key order, not in the order of its hash tables.
std::string SerialiseDeterministically(const v1::WatchResponse& message) {
  std::string wire;
  wire.reserve(message.ByteSizeLong());  // which also caches the sizes the serialiser needs
  {
    google::protobuf::io::StringOutputStream stream(&wire);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeWithCachedSizes(&coded);
  }
  return wire;
}

// The first chunk's metadata fields, serialised.
std::string MetadataWire(const std::map<std::string, std::string>& metadata) {
  v1::WatchResponse message;
  message.mutable_metadata()->insert(metadata.begin(), metadata.end());
  return SerialiseDeterministically(message);
}

// Chunk `index`'s header: the update's fields, its index (left out when 0, as proto3 does),
// last_chunk when set, and the metadata on the first. Fields may come in any order on the wire;
// parsers merge them.
size_t ChunkHeaderBytes(const UpdateChunks::Source& source, size_t index, bool last) {
  size_t bytes = source.header_wire.size();
  if (index > 0) {
    bytes += WireFormatLite::TagSize(v1::WatchResponse::kChunkIndexFieldNumber,
                                     WireFormatLite::TYPE_UINT32) +
             WireFormatLite::UInt32Size(static_cast<uint32_t>(index));
  }
  if (last) {
    bytes += WireFormatLite::TagSize(v1::WatchResponse::kLastChunkFieldNumber,
                                     WireFormatLite::TYPE_BOOL) +
             WireFormatLite::kBoolSize;
  }
  if (index == 0) bytes += source.metadata_wire.size();
  return bytes;
}

uint8_t* WriteChunkHeader(const UpdateChunks::Source& source, size_t index, bool last,
                          uint8_t* target) {
  target = CodedOutputStream::WriteStringToArray(source.header_wire, target);
  if (index > 0) {
    target = WireFormatLite::WriteUInt32ToArray(v1::WatchResponse::kChunkIndexFieldNumber,
                                                static_cast<uint32_t>(index), target);
  }
  if (last) {
    target =
        WireFormatLite::WriteBoolToArray(v1::WatchResponse::kLastChunkFieldNumber, true, target);
  }
  if (index == 0) target = CodedOutputStream::WriteStringToArray(source.metadata_wire, target);
  return target;
}

// Calls `visit` with rows [first, first + count) of `source`, in order.
void VisitRows(const UpdateChunks::Source& source, size_t first, size_t count,
               absl::FunctionRef<void(const ChunkItem&)> visit) {
  const size_t end = first + count;
  size_t begin = 0;  // the current collection's first row
  for (const auto& [type, collection] : source.collections) {
    const std::vector<config::Entity>& items = collection->items;
    for (size_t n = std::max(first, begin); n < std::min(end, begin + items.size()); ++n) {
      const config::Entity& entity = items[n - begin];
      visit(ChunkItem(v1::WatchResponse::kUpsertsFieldNumber, type, entity.id, entity.json));
    }
    begin += items.size();
  }
  const std::vector<config::EntityChange>& upserts = source.delta.upserts;
  for (size_t n = std::max(first, begin); n < end; ++n) {
    if (n - begin < upserts.size()) {
      const config::EntityChange& change = upserts[n - begin];
      visit(ChunkItem(v1::WatchResponse::kUpsertsFieldNumber, change.type, change.entity->id,
                      change.entity->json));
    } else {
      const config::EntityRemoval& removal = source.delta.removals[n - begin - upserts.size()];
      visit(ChunkItem(v1::WatchResponse::kRemovalsFieldNumber, removal.type, removal.id,
                      absl::string_view()));
    }
  }
}

// What `source` holds beyond the snapshots it views, about: the header is counted by its wire size
// (a little low; reflection's exact figure costs more than building a small update).
size_t SourceBytes(const UpdateChunks::Source& source) {
  return sizeof(source) + source.header_wire.capacity() + source.metadata_wire.capacity() +
         source.collections.capacity() * sizeof(source.collections[0]) +
         source.delta.upserts.capacity() * sizeof(config::EntityChange) +
         source.delta.removals.capacity() * sizeof(config::EntityRemoval);
}

size_t RowCount(const UpdateChunks::Source& source) {
  size_t rows = source.delta.upserts.size() + source.delta.removals.size();
  for (const auto& [type, collection] : source.collections) rows += collection->items.size();
  return rows;
}

}  // namespace

// Packs rows into chunks under the byte budget. Sizes come exactly from the wire format, so a
// chunk never exceeds the budget, with two exceptions that cannot be split: a row too big for an
// empty chunk goes alone in its own chunk, and the first chunk carries all the metadata however
// big it is (the client's receive limit, not ours, then decides; in practice a Kong row or
// metadata key is far below 4 MiB).
UpdateChunks::UpdateChunks(std::unique_ptr<const Source> source, size_t max_chunk_bytes)
    : source_(std::move(source)) {
  size_t first = 0;
  size_t count = 0;
  size_t items_bytes = 0;
  // The current chunk's header counted as if it were the last: last_chunk costs its two bytes
  // only on the last chunk, so this is an upper bound for the others.
  size_t header_bytes = ChunkHeaderBytes(*source_, 0, true);
  VisitRows(*source_, 0, RowCount(*source_), [&](const ChunkItem& item) {
    const size_t item_bytes = item.WireSize();
    // The first chunk's metadata counts as content: rather than overflow with it, the row starts
    // the next chunk, which has no metadata.
    const bool has_content = count > 0 || (layout_.empty() && !source_->metadata_wire.empty());
    if (has_content && header_bytes + items_bytes + item_bytes > max_chunk_bytes) {
      const size_t index = layout_.size();
      layout_.push_back({first, count, ChunkHeaderBytes(*source_, index, false) + items_bytes});
      first += count;
      count = 0;
      items_bytes = 0;
      header_bytes = ChunkHeaderBytes(*source_, index + 1, true);
    }
    items_bytes += item_bytes;
    ++count;
  });
  layout_.push_back({first, count, header_bytes + items_bytes});
  shared_ = std::make_unique<Shared[]>(layout_.size());
  if (layout_.size() == 1) kept_ = Write(0);
  held_bytes_ = SourceBytes(*source_) + layout_.capacity() * sizeof(Layout) +
                layout_.size() * sizeof(Shared) + (kept_ == nullptr ? 0 : kept_->Length());
}

UpdateChunks::~UpdateChunks() = default;

ChunkPtr UpdateChunks::Take(size_t index, bool reader) const {
  if (kept_ != nullptr) return kept_;
  Shared& shared = shared_[index];
  MutexLock lock(&shared.mu);
  if (reader) --shared.readers;
  ChunkPtr chunk = shared.written != nullptr ? shared.written : Write(index);
  shared.written = shared.readers > 0 ? chunk : nullptr;
  return chunk;
}

void UpdateChunks::CountReader(size_t from, size_t to, bool joins) const {
  if (kept_ != nullptr) return;
  for (size_t i = from; i < to; ++i) {
    Shared& shared = shared_[i];
    MutexLock lock(&shared.mu);
    if (joins) {
      ++shared.readers;
    } else if (--shared.readers == 0) {
      shared.written = nullptr;
    }
  }
}

// Writes the chunk straight into the slice gRPC sends: the header fields serialised when the
// update was built, then the upserts and removals, encoded here from views of the rows (parsers
// accept fields in any order and append each occurrence of a repeated field). So the rows are
// copied once, with no per-row allocation.
ChunkPtr UpdateChunks::Write(size_t index) const {
  const Layout& layout = layout_[index];
  grpc::Slice slice(layout.bytes);
  uint8_t* target = const_cast<uint8_t*>(slice.begin());
  uint8_t* const end = target + layout.bytes;
  const bool last = index + 1 == layout_.size();
  TETHER_DCHECK(ChunkHeaderBytes(*source_, index, last) <= layout.bytes);
  target = WriteChunkHeader(*source_, index, last, target);
  VisitRows(*source_, layout.first, layout.count, [&](const ChunkItem& item) {
    TETHER_DCHECK(target + item.WireSize() <= end);
    target = item.Write(target);
  });
  TETHER_DCHECK(target == end);
  return std::make_shared<const grpc::ByteBuffer>(&slice, 1);
}

ChunkReader::ChunkReader(UpdatePtr update) : update_(std::move(update)) {
  update_->chunks.CountReader(0, update_->chunks.size(), /*joins=*/true);
}

ChunkReader::ChunkReader(ChunkReader&& other) noexcept
    : update_(std::move(other.update_)), next_(other.next_) {
  other.update_ = nullptr;
}

ChunkReader& ChunkReader::operator=(ChunkReader&& other) noexcept {
  if (this != &other) {
    Leave();
    update_ = std::move(other.update_);
    next_ = other.next_;
    other.update_ = nullptr;
  }
  return *this;
}

ChunkReader::~ChunkReader() { Leave(); }

ChunkPtr ChunkReader::Take(size_t index) {
  TETHER_DCHECK(update_ != nullptr && index >= next_ && index < update_->chunks.size());
  update_->chunks.CountReader(next_, index, /*joins=*/false);
  next_ = index + 1;
  return update_->chunks.Take(index, /*reader=*/true);
}

void ChunkReader::Leave() {
  if (update_ != nullptr) update_->chunks.CountReader(next_, update_->chunks.size(), false);
  update_ = nullptr;
}

Update::Update(std::unique_ptr<const UpdateChunks::Source> source, size_t max_chunk_bytes)
    : config_hash(source->target->config_hash),
      base_hash(source->base == nullptr ? "" : source->base->config_hash),
      full(source->base == nullptr),
      upserts(RowCount(*source) - source->delta.removals.size()),
      removals(source->delta.removals.size()),
      chunks(std::move(source), max_chunk_bytes) {
  for (size_t i = 0; i < chunks.size(); ++i) bytes += chunks.bytes(i);
}

UpdatePtr BuildFullUpdate(config::SnapshotPtr snapshot, const config::TypeFilter& filter,
                          size_t max_chunk_bytes) {
  auto source = std::make_unique<UpdateChunks::Source>();
  v1::WatchResponse header = MakeHeader(*snapshot, filter);
  header.set_full(true);
  source->header_wire = SerialiseDeterministically(header);
  source->metadata_wire = MetadataWire(snapshot->metadata);
  for (const auto& [type, collection] : snapshot->types) {
    if (filter.Matches(type)) source->collections.emplace_back(type, collection.get());
  }
  source->target = std::move(snapshot);
  return std::make_shared<Update>(std::move(source), max_chunk_bytes);
}

UpdatePtr BuildDeltaUpdate(config::SnapshotPtr base, config::SnapshotPtr target,
                           const config::TypeFilter& filter, size_t max_chunk_bytes) {
  config::Delta delta = config::ComputeDelta(*base, *target, filter);
  if (delta.empty()) return nullptr;
  auto source = std::make_unique<UpdateChunks::Source>();
  v1::WatchResponse header = MakeHeader(*target, filter);
  header.set_full(false);
  header.set_base_hash(base->config_hash);
  source->header_wire = SerialiseDeterministically(header);
  if (delta.metadata_changed) {
    // The target's whole metadata, so a client may simply replace its own, plus an empty value
    // for each key the target lacks: empty is never valid JSON, so it can only mean "removed",
    // and it tells a delta that removes every key from a delta that changes none.
    std::map<std::string, std::string> metadata = target->metadata;
    for (const auto& [key, json] : base->metadata) metadata.try_emplace(key);
    source->metadata_wire = MetadataWire(metadata);
  }
  source->delta = std::move(delta);
  source->target = std::move(target);
  source->base = std::move(base);
  return std::make_shared<Update>(std::move(source), max_chunk_bytes);
}

absl::StatusOr<std::vector<v1::WatchResponse>> ParseUpdate(const Update& update) {
  std::vector<v1::WatchResponse> chunks;
  chunks.reserve(update.chunks.size());
  for (size_t i = 0; i < update.chunks.size(); ++i) {
    grpc::Slice slice;
    if (grpc::Status status = update.chunks.Get(i)->DumpToSingleSlice(&slice); !status.ok()) {
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

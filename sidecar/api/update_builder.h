// Builds one update for subscribers: the WatchResponse chunks of a full snapshot or of a delta,
// each serialised into a grpc::ByteBuffer that any number of streams can send.
//
// Why: fan-out must not cost subscribers x config size. Copying a grpc::ByteBuffer only takes a
// reference on its slices, so every subscriber that needs the same chunk shares the same bytes.
// Chunks stay under a byte budget (default well under gRPC's 4 MiB receive limit) so clients with
// default limits work with any config size.
//
// Threading: the builders are pure functions; an Update is thread-safe (UpdateChunks).
#pragma once

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sidecar/common/mutex.h"
#include "sidecar/config/delta.h"
#include "sidecar/config/snapshot.h"
#include "tether/v1/config.pb.h"

namespace tether::api {

// Serialised size cap per chunk (the whole message, header included): 512 KiB under gRPC's
// default 4 MiB receive limit, leaving room for gRPC's own framing.
inline constexpr size_t kDefaultMaxChunkBytes = 3 * 1024 * 1024 + 512 * 1024;

// One serialised tether.v1.WatchResponse, as a stream writes it.
using ChunkPtr = std::shared_ptr<const grpc::ByteBuffer>;

// The chunks of one update. Which rows go in which chunk, and each chunk's exact size, are fixed
// when the update is built; a chunk's bytes are written when the first stream sending the update
// takes it (ChunkReader), kept for the other streams sending it that have yet to take it, and
// freed once none has.
//
// Why: a full update is as big as the config (35 MiB of chunks for a 28 MiB config). Written
// whole before the first chunk went out, it doubled what tether held while FULL subscribers
// received it after every change; written a chunk at a time, it costs the chunks between the
// slowest and the fastest stream sending it, each written once. An update of one chunk (a delta of
// a few rows, any config under the budget) is written when it is built and kept, so that any
// number of later subscribers share it too.
//
// Lifetime: the rows are views into snapshots, which the update keeps alive until it is
// destroyed; a written chunk owns its bytes, so a stream may finish sending it after that.
//
// Threading: thread-safe; immutable once built, except for the sharing of written chunks.
class UpdateChunks {
 public:
  // What the chunks are written from: the header, the rows, and the snapshots they view
  // (update_builder.cc).
  struct Source;

  // Lays `source`'s rows out in chunks of at most `max_chunk_bytes` (see below).
  UpdateChunks(std::unique_ptr<const Source> source, size_t max_chunk_bytes);
  ~UpdateChunks();
  UpdateChunks(const UpdateChunks&) = delete;
  UpdateChunks& operator=(const UpdateChunks&) = delete;

  size_t size() const { return layout_.size(); }
  bool empty() const { return layout_.empty(); }
  // Chunk `index`'s serialised size, exact before it is written.
  size_t bytes(size_t index) const { return layout_[index].bytes; }
  // Chunk `index` for a one-off look (tests, tools): the copy kept for readers, else written now.
  ChunkPtr Get(size_t index) const { return Take(index, /*reader=*/false); }
  // What the update holds when no stream sends it: its layout, header and a delta's list of rows,
  // and the chunk a single-chunk update keeps (not the snapshots it views).
  size_t held_bytes() const { return held_bytes_; }

 private:
  friend class ChunkReader;

  struct Layout {
    size_t first;  // the chunk's first row, counted over the update's upserts then removals
    size_t count;
    size_t bytes;
  };
  struct Shared {
    Mutex mu;  // guards the fields below; held while the chunk is written, so others wait for it
    size_t readers ABSL_GUARDED_BY(mu) = 0;  // readers that have yet to take the chunk
    ChunkPtr written ABSL_GUARDED_BY(mu);    // kept while readers > 0
  };

  // Chunk `index`, taken by a reader (which then no longer counts for it) or looked at.
  ChunkPtr Take(size_t index, bool reader) const;
  // A reader joins for chunks [from, to), or gives them up.
  void CountReader(size_t from, size_t to, bool joins) const;
  ChunkPtr Write(size_t index) const;

  const std::unique_ptr<const Source> source_;
  std::vector<Layout> layout_;
  std::unique_ptr<Shared[]> shared_;
  ChunkPtr kept_;
  size_t held_bytes_ = 0;
};

// Every field but `chunks` is what the builder's source says: its target's and base's hashes
// (a full update has no base) and its rows.
struct Update {
  Update(std::unique_ptr<const UpdateChunks::Source> source, size_t max_chunk_bytes);

  std::string config_hash;
  std::string base_hash;  // empty for full updates
  bool full = true;
  size_t upserts = 0;
  size_t removals = 0;
  UpdateChunks chunks;  // serialised tether.v1.WatchResponse, last_chunk on the last
  size_t bytes = 0;     // total serialised size
};
using UpdatePtr = std::shared_ptr<const Update>;

// One stream's pass over an update's chunks, in order. While it lasts, a chunk another reader
// wrote is kept until this one takes it (or gives it up), so that streams sending the same update
// share one copy of each chunk.
//
// Threading: thread-compatible (one per stream); readers of one update may run on any threads.
class ChunkReader {
 public:
  ChunkReader() = default;
  explicit ChunkReader(UpdatePtr update);
  ChunkReader(ChunkReader&& other) noexcept;
  ChunkReader& operator=(ChunkReader&& other) noexcept;
  ~ChunkReader();

  const UpdatePtr& update() const { return update_; }
  // Chunk `index`, which comes after every chunk taken before; the chunks skipped are given up.
  ChunkPtr Take(size_t index);

 private:
  // Gives up every chunk not taken.
  void Leave();

  UpdatePtr update_;
  size_t next_ = 0;  // the chunks before it are taken or given up
};

// How chunks are laid out (both builders):
// - every chunk carries config_hash, hashes (the filtered types' plus "config"), full, base_hash,
//   received_at, source, entity_types (filtered types present in the target) and its chunk_index
//   (0, 1, ...); last_chunk is set on the last one only;
// - metadata travels on the first chunk only;
// - each serialised chunk is at most `max_chunk_bytes`, with two exceptions that cannot be
//   split: an entity too big for an empty chunk goes alone in its own chunk, and the first chunk
//   holds all the metadata (then no entities if they would not fit beside it); in practice rows
//   and metadata are far smaller than the default budget;
// - upserts come in the snapshot's type order then the CP's row order, removals after them.

// The whole snapshot restricted to `filter`. Always at least one chunk, even when empty.
UpdatePtr BuildFullUpdate(config::SnapshotPtr snapshot, const config::TypeFilter& filter,
                          size_t max_chunk_bytes = kDefaultMaxChunkBytes);

// The delta from `base` to `target` restricted to `filter`; nullptr when nothing the filter
// covers changed (config::Delta::empty()). When the metadata changed, the first chunk carries the
// target's whole metadata plus an empty value for each key the target no longer has (empty is
// never valid JSON, so it only ever means "removed").
UpdatePtr BuildDeltaUpdate(config::SnapshotPtr base, config::SnapshotPtr target,
                           const config::TypeFilter& filter,
                           size_t max_chunk_bytes = kDefaultMaxChunkBytes);

// The chunks of `update` parsed back into messages, in order (for tests, tools and logging; the
// server sends the ByteBuffers as they are). Internal when a chunk does not parse.
absl::StatusOr<std::vector<tether::v1::WatchResponse>> ParseUpdate(const Update& update);

}  // namespace tether::api

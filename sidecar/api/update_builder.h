// Builds one update for subscribers: the WatchResponse chunks of a full snapshot or of a delta,
// serialised once into grpc::ByteBuffers that any number of streams can send.
//
// Why: fan-out must not cost subscribers x config size. Copying a grpc::ByteBuffer only takes a
// reference on its slices, so every subscriber that needs the same update shares the same bytes.
// Chunks stay under a byte budget (default well under gRPC's 4 MiB receive limit) so clients with
// default limits work with any config size.
//
// Threading: pure functions; an Update is immutable once built.
#pragma once

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sidecar/config/delta.h"
#include "sidecar/config/snapshot.h"
#include "tether/v1/config.pb.h"

namespace tether::api {

// Serialised size cap per chunk (the whole message, header included): 512 KiB under gRPC's
// default 4 MiB receive limit, leaving room for gRPC's own framing.
inline constexpr size_t kDefaultMaxChunkBytes = 3 * 1024 * 1024 + 512 * 1024;

struct Update {
  std::string config_hash;
  std::string base_hash;  // empty for full updates
  bool full = true;
  std::vector<grpc::ByteBuffer>
      chunks;        // serialised tether.v1.WatchResponse, last_chunk on the last
  size_t bytes = 0;  // total serialised size
  size_t upserts = 0;
  size_t removals = 0;
};
using UpdatePtr = std::shared_ptr<const Update>;

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
UpdatePtr BuildFullUpdate(const config::Snapshot& snapshot, const config::TypeFilter& filter,
                          size_t max_chunk_bytes = kDefaultMaxChunkBytes);

// The delta from `base` to `target` restricted to `filter`; nullptr when nothing the filter
// covers changed (config::Delta::empty()). When the metadata changed, the first chunk carries the
// target's whole metadata plus an empty value for each key the target no longer has (empty is
// never valid JSON, so it only ever means "removed").
UpdatePtr BuildDeltaUpdate(const config::Snapshot& base, const config::Snapshot& target,
                           const config::TypeFilter& filter,
                           size_t max_chunk_bytes = kDefaultMaxChunkBytes);

// The chunks of `update` parsed back into messages, in order (for tests, tools and logging; the
// server sends the ByteBuffers as they are). Internal when a chunk does not parse.
absl::StatusOr<std::vector<tether::v1::WatchResponse>> ParseUpdate(const Update& update);

}  // namespace tether::api

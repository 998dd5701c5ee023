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

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/support/byte_buffer.h>

#include "absl/status/statusor.h"
#include "sidecar/config/delta.h"
#include "sidecar/config/snapshot.h"

namespace tether::api {

// Room left in each chunk for everything but entities; 4 MiB minus this is the entity budget.
inline constexpr size_t kDefaultMaxChunkBytes = 3 * 1024 * 1024 + 512 * 1024;

struct Update {
  std::string config_hash;
  std::string base_hash;  // empty for full updates
  bool full = true;
  std::vector<grpc::ByteBuffer> chunks;  // serialised tether.v1.WatchResponse, last_chunk on the last
  size_t bytes = 0;                      // total serialised size
  size_t upserts = 0;
  size_t removals = 0;
};
using UpdatePtr = std::shared_ptr<const Update>;

// The whole snapshot restricted to `filter`. Always at least one chunk, even when empty.
UpdatePtr BuildFullUpdate(const config::Snapshot& snapshot, const config::TypeFilter& filter,
                          size_t max_chunk_bytes = kDefaultMaxChunkBytes);

// The delta from `base` to `target` restricted to `filter`; nullptr when nothing the filter
// covers changed.
UpdatePtr BuildDeltaUpdate(const config::Snapshot& base, const config::Snapshot& target,
                           const config::TypeFilter& filter,
                           size_t max_chunk_bytes = kDefaultMaxChunkBytes);

}  // namespace tether::api

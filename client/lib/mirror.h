// Mirror: a proxy's local copy of tether's config, and the assembly of WatchResponse chunks into
// new mirrors.
//
// Why: every client of the Watch API must do the same careful work (collect chunks, check that a
// delta applies to the state it holds, apply upserts and removals, publish a new immutable copy);
// doing it once here is what makes deltas safe to use.
//
// Threading: Mirror is immutable once published (MirrorPtr). UpdateAssembler is thread-compatible:
// feed it from one stream's callbacks.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "tether/v1/config.pb.h"

namespace tether::client {

struct Mirror {
  std::string config_hash;  // empty before the first update
  std::map<std::string, std::string> hashes;
  // type -> id -> the entity's JSON.
  std::map<std::string, std::map<std::string, std::string>> entities;
  std::map<std::string, std::string> metadata;
  tether::v1::Source source = tether::v1::SOURCE_UNSPECIFIED;

  size_t EntityCount() const;
};
using MirrorPtr = std::shared_ptr<const Mirror>;

class UpdateAssembler {
 public:
  // Starts from `initial` (e.g. the mirror held before a reconnect) or from an empty mirror.
  explicit UpdateAssembler(MirrorPtr initial = nullptr);

  // Feeds one chunk. Returns the new mirror when `chunk` completes an update, nullopt while an
  // update is still incomplete. InvalidArgument when the chunks are inconsistent (the hash changes
  // within an update, chunk_index out of order, a delta whose base_hash is not the held hash, a
  // full/delta flag that changes mid-update, metadata on a chunk other than the first, removals
  // in a full update, an upsert of a type the update does not list in entity_types); the held
  // mirror is then unchanged and the partial update dropped, so the next chunk must start a new
  // update (chunk_index 0).
  //
  // Applying: a full update replaces entities, hashes and metadata; a delta applies removals and
  // upserts to a copy of the held mirror, takes the update's hashes, and keeps exactly the types
  // in entity_types (an empty map for a listed type without rows). A delta's metadata, when
  // present, replaces the held metadata, and a key with an empty value is removed.
  absl::StatusOr<std::optional<MirrorPtr>> Add(const tether::v1::WatchResponse& chunk);

  // The last complete mirror (never null).
  const MirrorPtr& current() const { return current_; }

 private:
  // The update being assembled: applied chunk by chunk to a private copy, so the chunks need
  // not be kept, and published only at last_chunk.
  struct Pending {
    std::string config_hash;
    std::string base_hash;
    bool full = true;
    uint32_t next_index = 0;
    std::set<std::string> entity_types;
    std::shared_ptr<Mirror> mirror;
  };

  absl::Status Begin(const tether::v1::WatchResponse& chunk);
  absl::Status Continue(const tether::v1::WatchResponse& chunk) const;
  absl::Status Apply(const tether::v1::WatchResponse& chunk);
  MirrorPtr Complete();

  MirrorPtr current_;
  // Set between the first and the last chunk of an update.
  std::optional<Pending> pending_;
};

}  // namespace tether::client

// UpdateCache: the updates built for the newest snapshot, shared by every subscriber with the
// same needs.
//
// Why: fan-out must not cost subscribers x config size. Subscribers that hold the same base
// snapshot, want the same target and the same entity types need byte-identical updates, so the
// first one pays for building it (update_builder.h) and the rest take a reference. The key is
// (base hash or "full", target hash, filter key); a FULL-mode subscriber also asks "did anything
// it sees change?", which is cached the same way.
//
// Entries for older targets are dropped by Retain() when a newer snapshot arrives: a subscriber
// in the middle of sending an older update keeps it alive through its own UpdatePtr, so memory
// stays bounded by (distinct needs for the newest snapshot) + (updates in flight).
//
// Threading: thread-compatible; owned and used by the config service's fan-out worker only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "sidecar/api/update_builder.h"
#include "sidecar/config/delta.h"
#include "sidecar/config/snapshot.h"

namespace tether::api {

// How a subscriber wants updates after its first (tether.v1.Mode).
enum class UpdateMode { kFull, kDelta };

class UpdateCache {
 public:
  struct Stats {
    uint64_t full_builds = 0;
    uint64_t delta_builds = 0;
    // Emptiness checks (ComputeDelta) for FULL-mode subscribers holding a base.
    uint64_t change_checks = 0;
    uint64_t hits = 0;
  };

  explicit UpdateCache(size_t max_chunk_bytes = kDefaultMaxChunkBytes)
      : max_chunk_bytes_(max_chunk_bytes) {}

  // The update that brings a subscriber holding `base` (null: nothing yet) to `target`, restricted
  // to `filter`: a full update when `base` is null or `mode` is kFull, else a delta from `base`.
  // Null when `base` is set and nothing the filter covers changed between the two (the subscriber
  // is then not woken). The entity type names in `filter` must not contain ',' (the key joins
  // them with it; the service validates names).
  UpdatePtr Get(const config::SnapshotPtr& base, const config::Snapshot& target,
                const config::TypeFilter& filter, UpdateMode mode);

  // Drops every entry whose target is not `target_hash`.
  void Retain(absl::string_view target_hash);

  size_t size() const { return updates_.size() + changed_.size(); }
  const Stats& stats() const { return stats_; }

 private:
  struct Entry {
    std::string target_hash;
    UpdatePtr update;  // null: nothing changed for this (base, filter)
  };
  struct Verdict {
    std::string target_hash;
    bool changed = false;
  };

  UpdatePtr Full(const config::Snapshot& target, const config::TypeFilter& filter,
                 const std::string& filter_key);

  const size_t max_chunk_bytes_;
  // "full|target|filter" or "delta|base|target|filter" -> the built update.
  absl::flat_hash_map<std::string, Entry> updates_;
  // "changed|base|target|filter" -> whether a FULL-mode subscriber at base must be woken.
  absl::flat_hash_map<std::string, Verdict> changed_;
  Stats stats_;
};

}  // namespace tether::api

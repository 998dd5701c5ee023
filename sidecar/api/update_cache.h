// UpdateCache: the updates built for the newest snapshot, shared by every subscriber with the
// same needs, within a byte budget.
//
// Why: fan-out must not cost subscribers x config size. Subscribers that hold the same base
// snapshot, want the same target and the same entity types need byte-identical updates, so the
// first one pays for building it (update_builder.h) and the rest take a reference. The key is
// (base hash or "full", target hash, filter key); a FULL-mode subscriber also asks "did anything
// it sees change?", which is cached the same way.
//
// The filter key is what the filter selects from the snapshots involved
// (config::TypeFilter::KeyWithin), not what the client wrote: made-up type names select nothing,
// so `services,junk1` and `services,junk2` share one entry instead of a full copy each.
//
// Memory: what the updates kept (Keep::kCache) hold adds up to at most the byte budget; beyond it
// the least recently used are dropped (counted as evictions). An update of one chunk holds that
// chunk; one of several holds no chunk between writes, only its layout (update_builder.h) and
// the snapshots it views, which the store or a stream holds anyway (UpdateChunks::held_bytes).
// Anything built is also found while someone still holds it (a stream sending it keeps it alive
// through its own UpdatePtr), so a concurrent identical request shares it even when it was evicted
// or never kept: one-shot GetConfig results (Keep::kShare) are kept no longer than that. Retain()
// drops everything for older targets when a newer snapshot arrives. So memory stays bounded by the
// budget + (chunks in flight).
//
// Threading: thread-compatible; owned and used by the config service's fan-out worker only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "sidecar/api/update_builder.h"
#include "sidecar/config/delta.h"
#include "sidecar/config/snapshot.h"

namespace tether::api {

// How a subscriber wants updates after its first (tether.v1.Mode).
enum class UpdateMode { kFull, kDelta };

// Room for dozens of single-chunk updates (each at most the chunk budget): distinct filters beyond
// that are rebuilt rather than kept.
inline constexpr size_t kDefaultUpdateCacheBytes = 128 * 1024 * 1024;

class UpdateCache {
 public:
  struct Stats {
    uint64_t full_builds = 0;
    uint64_t delta_builds = 0;
    // Emptiness checks (ComputeDelta) for FULL-mode subscribers holding a base.
    uint64_t change_checks = 0;
    uint64_t hits = 0;
    // Kept updates dropped to stay within the byte budget.
    uint64_t evictions = 0;
    // What is kept now: entries (updates, "nothing changed" results and change verdicts) and the
    // bytes the updates among them hold (UpdateChunks::held_bytes).
    size_t entries = 0;
    size_t bytes = 0;
  };

  // Whether an update is worth keeping once built.
  enum class Keep {
    kCache,  // a Watch stream's: later subscribers with the same needs are likely
    kShare,  // a one-shot GetConfig's: shared only while a request still sends it
  };

  explicit UpdateCache(size_t max_chunk_bytes = kDefaultMaxChunkBytes,
                       size_t max_bytes = kDefaultUpdateCacheBytes)
      : max_chunk_bytes_(max_chunk_bytes), max_bytes_(max_bytes) {}

  // The update that brings a subscriber holding `base` (null: nothing yet) to `target`, restricted
  // to `filter`: a full update when `base` is null or `mode` is kFull, else a delta from `base`.
  // Null when `base` is set and nothing the filter covers changed between the two (the subscriber
  // is then not woken). The entity type names in `filter` must not contain ',' or '|' (the key
  // joins them; the service validates names).
  UpdatePtr Get(const config::SnapshotPtr& base, const config::SnapshotPtr& target,
                const config::TypeFilter& filter, UpdateMode mode, Keep keep = Keep::kCache);

  // Drops every entry whose target is not `target_hash`.
  void Retain(absl::string_view target_hash);

  size_t size() const { return kept_.size() + changed_.size(); }
  // The counters, with entries and bytes as of now.
  Stats stats() const;

 private:
  struct Kept {
    std::string key;
    std::string target_hash;
    UpdatePtr update;  // null: nothing changed for this (base, filter)
  };
  using Lru = std::list<Kept>;  // most recently used first
  struct Shared {
    std::string target_hash;
    std::weak_ptr<const Update> update;
  };
  struct Verdict {
    std::string target_hash;
    bool changed = false;
  };

  // The update under `key`, kept or still held by someone; else built by `build` (counted in
  // `builds`). Kept afterwards when `keep` says so.
  template <typename Build>
  UpdatePtr Find(const std::string& key, const std::string& target_hash, Keep keep,
                 uint64_t& builds, Build build);
  void Share(const std::string& key, const std::string& target_hash, const UpdatePtr& update);
  // Keeps `update` as the most recently used, then evicts the least recently used (possibly this
  // one) until the budget holds.
  void KeepUpdate(const std::string& key, const std::string& target_hash, UpdatePtr update);
  void Drop(Lru::iterator it);

  const size_t max_chunk_bytes_;
  const size_t max_bytes_;
  // "full|target|filter" or "delta|base|target|filter" -> the kept update, in lru_.
  Lru lru_;
  absl::flat_hash_map<std::string, Lru::iterator> kept_;
  size_t kept_bytes_ = 0;
  // The same keys -> every non-null update built for the current targets, while anyone holds it.
  // Expired entries are swept once the map doubles.
  absl::flat_hash_map<std::string, Shared> shared_;
  size_t sweep_at_ = kMinSweep;
  static constexpr size_t kMinSweep = 64;
  // "changed|base|target|filter" -> whether a FULL-mode subscriber at base must be woken. A few
  // bytes each, one per (base, filter) of the FULL-mode streams, so not budgeted.
  absl::flat_hash_map<std::string, Verdict> changed_;
  Stats stats_;
};

}  // namespace tether::api

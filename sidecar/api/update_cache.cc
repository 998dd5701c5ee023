#include "sidecar/api/update_cache.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tether::api {
namespace {

// Hashes are 32 hex chars and filter keys hold no '|', so these keys cannot collide.
std::string Key(absl::string_view kind, absl::string_view base, absl::string_view target,
                absl::string_view filter_key) {
  return absl::StrCat(kind, "|", base, "|", target, "|", filter_key);
}

size_t BytesOf(const UpdatePtr& update) {
  return update == nullptr ? 0 : update->chunks.held_bytes();
}

}  // namespace

template <typename Build>
UpdatePtr UpdateCache::Find(const std::string& key, const std::string& target_hash, Keep keep,
                            uint64_t& builds, Build build) {
  if (auto it = kept_.find(key); it != kept_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    ++stats_.hits;
    return it->second->update;
  }
  UpdatePtr update;
  if (auto it = shared_.find(key); it != shared_.end()) update = it->second.update.lock();
  if (update != nullptr) {
    ++stats_.hits;
  } else {
    update = build();
    ++builds;
    Share(key, target_hash, update);
  }
  if (keep == Keep::kCache) KeepUpdate(key, target_hash, update);
  return update;
}

void UpdateCache::Share(const std::string& key, const std::string& target_hash,
                        const UpdatePtr& update) {
  if (update == nullptr) return;
  shared_.insert_or_assign(key, Shared{target_hash, update});
  if (shared_.size() < sweep_at_) return;
  absl::erase_if(shared_, [](const auto& entry) { return entry.second.update.expired(); });
  sweep_at_ = std::max(kMinSweep, 2 * shared_.size());
}

void UpdateCache::KeepUpdate(const std::string& key, const std::string& target_hash,
                             UpdatePtr update) {
  kept_bytes_ += BytesOf(update);
  lru_.push_front(Kept{key, target_hash, std::move(update)});
  kept_.emplace(key, lru_.begin());
  while (kept_bytes_ > max_bytes_) {
    Drop(std::prev(lru_.end()));
    ++stats_.evictions;
  }
}

void UpdateCache::Drop(Lru::iterator it) {
  kept_bytes_ -= BytesOf(it->update);
  kept_.erase(it->key);
  lru_.erase(it);
}

UpdatePtr UpdateCache::Get(const config::SnapshotPtr& base, const config::SnapshotPtr& target,
                           const config::TypeFilter& filter, UpdateMode mode, Keep keep) {
  if (base == nullptr) {
    const std::string key = Key("full", "", target->config_hash, filter.KeyWithin({target.get()}));
    return Find(key, target->config_hash, keep, stats_.full_builds,
                [&] { return BuildFullUpdate(target, filter, max_chunk_bytes_); });
  }
  // A delta and a change check also see the types the base holds (removed ones, for a start).
  const std::string filter_key = filter.KeyWithin({base.get(), target.get()});
  if (mode == UpdateMode::kDelta) {
    const std::string key = Key("delta", base->config_hash, target->config_hash, filter_key);
    return Find(key, target->config_hash, keep, stats_.delta_builds,
                [&] { return BuildDeltaUpdate(base, target, filter, max_chunk_bytes_); });
  }

  const std::string key = Key("changed", base->config_hash, target->config_hash, filter_key);
  auto it = changed_.find(key);
  if (it == changed_.end()) {
    ++stats_.change_checks;
    const bool changed = !config::ComputeDelta(*base, *target, filter).empty();
    it = changed_.emplace(key, Verdict{target->config_hash, changed}).first;
  } else {
    ++stats_.hits;
  }
  return it->second.changed ? Get(nullptr, target, filter, mode, keep) : nullptr;
}

void UpdateCache::Retain(absl::string_view target_hash) {
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->target_hash != target_hash) Drop(it);
    it = next;
  }
  absl::erase_if(shared_,
                 [&](const auto& entry) { return entry.second.target_hash != target_hash; });
  absl::erase_if(changed_,
                 [&](const auto& entry) { return entry.second.target_hash != target_hash; });
}

UpdateCache::Stats UpdateCache::stats() const {
  Stats stats = stats_;
  stats.entries = size();
  stats.bytes = kept_bytes_;
  return stats;
}

}  // namespace tether::api

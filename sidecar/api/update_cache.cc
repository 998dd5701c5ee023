#include "sidecar/api/update_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace tether::api {
namespace {

// Hashes are 32 hex chars and filter keys hold no '|', so these keys cannot collide.
std::string Key(absl::string_view kind, absl::string_view base, absl::string_view target,
                absl::string_view filter_key) {
  return absl::StrCat(kind, "|", base, "|", target, "|", filter_key);
}

}  // namespace

UpdatePtr UpdateCache::Full(const config::Snapshot& target, const config::TypeFilter& filter,
                            const std::string& filter_key) {
  const std::string key = Key("full", "", target.config_hash, filter_key);
  if (auto it = updates_.find(key); it != updates_.end()) {
    ++stats_.hits;
    return it->second.update;
  }
  UpdatePtr update = BuildFullUpdate(target, filter, max_chunk_bytes_);
  ++stats_.full_builds;
  updates_.emplace(key, Entry{target.config_hash, update});
  return update;
}

UpdatePtr UpdateCache::Get(const config::SnapshotPtr& base, const config::Snapshot& target,
                           const config::TypeFilter& filter, UpdateMode mode) {
  const std::string filter_key = filter.Key();
  if (base == nullptr) return Full(target, filter, filter_key);

  if (mode == UpdateMode::kDelta) {
    const std::string key = Key("delta", base->config_hash, target.config_hash, filter_key);
    if (auto it = updates_.find(key); it != updates_.end()) {
      ++stats_.hits;
      return it->second.update;
    }
    UpdatePtr update = BuildDeltaUpdate(*base, target, filter, max_chunk_bytes_);
    ++stats_.delta_builds;
    updates_.emplace(key, Entry{target.config_hash, update});
    return update;
  }

  const std::string key = Key("changed", base->config_hash, target.config_hash, filter_key);
  auto it = changed_.find(key);
  if (it == changed_.end()) {
    ++stats_.change_checks;
    const bool changed = !config::ComputeDelta(*base, target, filter).empty();
    it = changed_.emplace(key, Verdict{target.config_hash, changed}).first;
  } else {
    ++stats_.hits;
  }
  return it->second.changed ? Full(target, filter, filter_key) : nullptr;
}

void UpdateCache::Retain(absl::string_view target_hash) {
  absl::erase_if(updates_,
                 [&](const auto& entry) { return entry.second.target_hash != target_hash; });
  absl::erase_if(changed_,
                 [&](const auto& entry) { return entry.second.target_hash != target_hash; });
}

}  // namespace tether::api

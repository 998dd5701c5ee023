#include "sidecar/config/snapshot_store.h"

#include <cassert>
#include <string>
#include <utility>

#include "protocol/constants.h"

namespace tether::config {

SnapshotPtr SnapshotStore::Current() const {
  MutexLock lock(&mu_);
  return current_;
}

std::string SnapshotStore::CurrentHash() const {
  SnapshotPtr current = Current();
  return current != nullptr ? current->config_hash : std::string(protocol::kEmptyConfigHash);
}

SnapshotPtr SnapshotStore::Find(absl::string_view config_hash) const {
  MutexLock lock(&mu_);
  if (current_ != nullptr && current_->config_hash == config_hash) return current_;
  // Newest first: the same hash may come back (CP rollback, disk cache then CP), and the newest
  // copy is the one most likely still shared with other readers.
  for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
    if ((*it)->config_hash == config_hash) return *it;
  }
  return nullptr;
}

void SnapshotStore::Publish(SnapshotPtr snapshot) {
  assert(snapshot != nullptr);
  // Released after the lock: dropping the last reference to a large snapshot frees it, which is
  // slow work that must not hold up readers.
  std::vector<SnapshotPtr> released;
  {
    MutexLock lock(&mu_);
    SnapshotPtr previous = std::exchange(current_, snapshot);
    if (previous != nullptr) {
      history_bytes_ += previous->added_bytes;
      history_.push_back(std::move(previous));
    }
    while (!history_.empty() &&
           (history_.size() > history_limit_ || history_bytes_ > history_bytes_limit_)) {
      history_bytes_ -= history_.front()->added_bytes;
      released.push_back(std::move(history_.front()));
      history_.pop_front();
    }
  }
  // Outside the lock, so that an observer may call Current() and none can stall readers.
  observers_.Notify(snapshot);
}

}  // namespace tether::config

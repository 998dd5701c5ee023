#include "sidecar/config/snapshot_store.h"

#include <cassert>
#include <string>
#include <utility>

#include "protocol/constants.h"

namespace tether::config {

SnapshotPtr SnapshotStore::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

std::string SnapshotStore::CurrentHash() const {
  SnapshotPtr current = Current();
  return current != nullptr ? current->config_hash : std::string(protocol::kEmptyConfigHash);
}

void SnapshotStore::Publish(SnapshotPtr snapshot) {
  assert(snapshot != nullptr);
  std::vector<Observer> observers;
  {
    absl::MutexLock lock(&mu_);
    current_ = snapshot;
    // Observers run outside the lock so that one may call Current() and none can stall readers.
    // The copy is cheap: there are a handful, and publishes are rare.
    observers = observers_;
  }
  for (const Observer& observer : observers) observer(snapshot);
}

void SnapshotStore::AddObserver(Observer observer) {
  absl::MutexLock lock(&mu_);
  observers_.push_back(std::move(observer));
}

}  // namespace tether::config

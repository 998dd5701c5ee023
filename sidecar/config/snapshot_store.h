// SnapshotStore holds the current Snapshot and tells observers when it changes.
//
// Why: the CP session's applier publishes, and any number of readers (gRPC subscribers, status,
// disk cache) read the current snapshot without ever blocking the publisher for long: readers
// copy the pointer under the lock and let go (STYLE.md, "Locks only to swap in a shared
// structure").
//
// Threading: thread-safe. mu_ guards current_ and observers_. Observers are called on the
// publishing thread, outside the lock, in registration order; they must not block.
#pragma once

#include <functional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sidecar/config/snapshot.h"

namespace tether::config {

class SnapshotStore {
 public:
  using Observer = std::function<void(const SnapshotPtr&)>;

  // Null until the first Publish.
  SnapshotPtr Current() const;
  // Hash of the current snapshot, or 32 zeros when none.
  std::string CurrentHash() const;

  // Makes `snapshot` current and notifies observers.
  void Publish(SnapshotPtr snapshot);

  // Observers are registered during wiring, before the first Publish.
  void AddObserver(Observer observer);

 private:
  mutable absl::Mutex mu_;
  SnapshotPtr current_ ABSL_GUARDED_BY(mu_);
  std::vector<Observer> observers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether::config

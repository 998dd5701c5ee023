// SnapshotStore holds the current Snapshot, a short history of the ones before it, and tells
// observers when the current one changes.
//
// Why: the CP session's applier publishes, and any number of readers (gRPC subscribers, status,
// disk cache) read the current snapshot without ever blocking the publisher for long: readers
// copy the pointer under the lock and let go (STYLE.md, "Locks only to swap in a shared
// structure"). The history lets a subscriber that reconnects with the hash it holds resume with a
// delta instead of the whole config (Envoy's delta xDS resume), as long as that hash is recent.
//
// Threading: thread-safe. mu_ guards current_ and history_. Observers are called on the
// publishing thread, outside the lock, in registration order (common/observer_list.h); they must
// not block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "sidecar/common/mutex.h"
#include "sidecar/common/observer_list.h"
#include "sidecar/config/snapshot.h"

namespace tether::config {

class SnapshotStore {
 public:
  using Observers = ObserverList<const SnapshotPtr&>;

  // How many snapshots before the current one Find() can still return. This trades memory for
  // delta resumes after a burst of configs: the history also stops at `history_bytes` of what
  // its snapshots added (Snapshot::added_bytes: the rows that changed when they share with the
  // one before, the whole config otherwise).
  static constexpr size_t kDefaultHistory = 16;

  explicit SnapshotStore(size_t history = kDefaultHistory, size_t history_bytes = SIZE_MAX)
      : history_limit_(history), history_bytes_limit_(history_bytes) {}

  // Null until the first Publish.
  SnapshotPtr Current() const;
  // Hash of the current snapshot, or 32 zeros when none.
  std::string CurrentHash() const;
  // The current snapshot or one of the last `history` published before it whose config_hash is
  // `config_hash` (the newest such), or null when none is held.
  SnapshotPtr Find(absl::string_view config_hash) const;

  // Makes `snapshot` current, moves the previous one into the history (dropping the oldest
  // beyond the limit) and notifies observers.
  void Publish(SnapshotPtr snapshot);

  // Calls `observer` after every later Publish with the new current snapshot, until the handle
  // is dropped.
  [[nodiscard]] Observers::Handle AddObserver(Observers::Callback observer) {
    return observers_.Add(std::move(observer));
  }

 private:
  const size_t history_limit_;
  const size_t history_bytes_limit_;
  mutable Mutex mu_;
  SnapshotPtr current_ ABSL_GUARDED_BY(mu_);
  // Previously current snapshots, oldest first; never more than history_limit_ of them, nor more
  // than history_bytes_limit_ of added_bytes together (history_bytes_). Only Publish() writes
  // these.
  std::deque<SnapshotPtr> history_ ABSL_GUARDED_BY(mu_);
  size_t history_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  Observers observers_;
};

}  // namespace tether::config

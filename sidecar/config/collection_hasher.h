// Kong's hashes of the entity collections Kong does not hash itself, worked out while the decoder
// reads the rest of the message.
//
// Why: hashing is about a fifth of a large config's decode (BENCHMARKS.md). A collection's hash is
// one fold over its rows in order (protocol::KongArrayHasher), so the unit of work is a whole
// collection: a helper thread takes collections as the decoder completes them, and the decoder's
// thread takes whatever is left once it has read the message. Rows are parsed one at a time into
// a small reused tree, so no tree of a whole collection ever exists.
//
// Threading: Add and Finish are called from the decoder's thread only. A collection handed to
// Add is complete: no thread changes its rows afterwards, and only the thread hashing it writes
// its `hash`, which the decoder reads after Finish has joined the helper.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "sidecar/common/mutex.h"
#include "sidecar/config/snapshot.h"

namespace tether::config {

class RowParser;

class CollectionHasher {
 public:
  // `max_depth` is the decoder's nesting cap, which the rows have already passed.
  explicit CollectionHasher(int max_depth) : max_depth_(max_depth) {}
  // On an error path: the helper stops after the row it is on, and is joined.
  ~CollectionHasher();
  CollectionHasher(const CollectionHasher&) = delete;
  CollectionHasher& operator=(const CollectionHasher&) = delete;

  // Queues `collection` to have its `hash` set. Its rows' text must outlive this hasher.
  void Add(std::shared_ptr<EntityCollection> collection);

  // Hashes whatever the helper has not taken, then waits for it: every hash is written after.
  // Internal if a row did not parse again (a decoder bug: the rows parsed once already).
  absl::Status Finish();

 private:
  // Below this many rows queued, starting a thread costs more than it saves.
  static constexpr size_t kMinRowsForHelper = 1000;

  // Takes and hashes queued collections until the queue is empty (`wait`: until it is closed).
  void Work(bool wait);
  absl::Status Hash(EntityCollection& collection, RowParser& parser) const;

  const int max_depth_;
  size_t queued_rows_ = 0;  // decoder thread only
  std::atomic<bool> cancelled_{false};
  Mutex mu_;  // guards the queue, `closed_` and `status_`
  std::deque<std::shared_ptr<EntityCollection>> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;  // no more Adds: the helper leaves once it is empty
  absl::Status status_ ABSL_GUARDED_BY(mu_);  // the first failure
  std::jthread helper_;  // last, so that it is joined before the rest is destroyed
};

}  // namespace tether::config

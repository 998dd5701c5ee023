// Kong's hashes of the entity collections Kong does not hash itself, worked out while the decoder
// reads the rest of the message.
//
// Why: hashing is about a third of a large config's decode (BENCHMARKS.md), and it can run beside
// the parse. A collection's hash is one fold over its rows in order (protocol::KongArrayHasher),
// so one thread hashes all of a collection. For a large message a helper thread is fed chunks of
// rows as the decoder reads them, so a collection early in the message is hashed during the read;
// once the decoder has read it all, it takes the collections the helper has not started. A small
// message is hashed on the decoder's thread alone. Rows are parsed one at a time into a small
// reused tree, so no tree of a whole collection ever exists.
//
// Threading: Begin, AddRow, End, Drop and Finish are called from the decoder's thread only. Rows
// are views of text the snapshot keeps (or the previous config's), which no one changes; a
// collection's `hash` is written by the thread that hashes it and read by the decoder after Finish
// has joined the helper.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "sidecar/common/mutex.h"
#include "sidecar/config/snapshot.h"

namespace tether::config {

class CollectionHasher {
 public:
  // `max_depth` is the decoder's nesting cap, which the rows have already passed. `message_bytes`
  // decides whether a helper thread is worth starting.
  CollectionHasher(int max_depth, size_t message_bytes);
  // On an error path: the helper stops after the row it is on, and is joined.
  ~CollectionHasher();
  CollectionHasher(const CollectionHasher&) = delete;
  CollectionHasher& operator=(const CollectionHasher&) = delete;

  // The rows of `collection` follow, in order, until End; its `hash` is set by Finish. Row text
  // must outlive this hasher.
  void Begin(std::shared_ptr<EntityCollection> collection);
  // The next row of the collection begun (none: ignored).
  void AddRow(absl::string_view json);
  void End();
  // Forgets the collection begun (the decoder stopped building it).
  void Drop();

  // Hashes whatever is left, then waits for the helper: every hash is written after. Internal if a
  // row did not parse again (a decoder bug: the rows parsed once already).
  absl::Status Finish();

 private:
  enum class Worker { kNone, kHelper, kDecoder };
  struct Job;
  struct Chunk {
    std::shared_ptr<Job> job;
    std::vector<absl::string_view> rows;
    bool last = false;
  };

  // Queues the rows gathered so far, once the job's separators are known.
  void Flush(bool last);
  void Enqueue(Chunk chunk);
  // Hashes the queued chunks `self` may take: those of collections it owns or no one does. The
  // helper waits for more until the queue is closed.
  void Work(Worker self);
  absl::Status Hash(Chunk& chunk, class RowParser& parser) const;

  const int max_depth_;
  const bool use_helper_;
  // The collection begun, decoder thread only.
  std::shared_ptr<Job> job_;
  std::vector<absl::string_view> rows_;
  bool queued_any_ = false;  // a chunk of it was queued

  std::atomic<bool> cancelled_{false};
  Mutex mu_;  // guards the queue, `closed_`, `status_` and each Job's `owner`
  std::deque<Chunk> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;  // no more chunks: the helper leaves once it is empty
  absl::Status status_ ABSL_GUARDED_BY(mu_);  // the first failure
  std::jthread helper_;  // last, so that it is joined before the rest is destroyed
};

}  // namespace tether::config

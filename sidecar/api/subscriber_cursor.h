// SubscriberCursor: where one Watch stream stands in the config history. What the client holds
// (sent), the update being written to it chunk by chunk (in flight), the newest snapshot it has
// yet to get (pending), and what it last acked or nacked.
//
// Why a class of its own, without gRPC: these rules are what keeps a slow subscriber from
// holding back anybody else, and they are easy to get subtly wrong, so they are tested directly
// (tests/unit/sidecar/api/subscriber_cursor_test.cc) rather than through a server:
//  - at most one update in flight; a newer snapshot replaces the pending one (latest wins);
//  - an update's chunks are written in order, one at a time;
//  - in DELTA mode the next delta starts from the last snapshot fully sent, so an update nobody
//    needed (nothing the filter covers changed) leaves the base where it was;
//  - a resume_hash naming the current snapshot sends nothing until the next change; in DELTA
//    mode, one naming a snapshot the store still holds gets the delta from it.
//
// Threading: thread-compatible. The Watch reactor guards it with its own mutex; the comments say
// which of the reactor's paths calls each method (read path, write path, fan-out worker).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "sidecar/api/request_validation.h"
#include "sidecar/api/update_builder.h"
#include "sidecar/api/update_cache.h"
#include "sidecar/config/snapshot_store.h"

namespace tether::api {

class SubscriberCursor {
 public:
  // What the worker needs to build the next update.
  struct Plan {
    config::SnapshotPtr base;  // null: a full update
    config::SnapshotPtr target;
    config::TypeFilter filter;
    UpdateMode mode;
  };

  // What to do once the chunk in flight is written.
  enum class Next {
    kWriteChunk,  // write the next chunk of the same update (chunk_index())
    kIdle,        // the update is sent (sent()); nothing is pending
    kBuild,       // the update is sent (sent()); a pending snapshot waits for a build
  };

  // Read path, once: what the client asked for. Nothing is offered before.
  void Subscribe(const Subscription& subscription);
  bool subscribed() const { return subscribed_; }

  // Stops the cursor: nothing more is initialised, offered, taken or started, and the update in
  // flight is given up. False when it was already closed.
  bool Close();
  bool closed() const { return closed_; }

  // Worker, after Subscribe: applies the resume rules against `store`. True when an update must
  // be built now (TakePending).
  bool Initialise(const config::SnapshotStore& store);

  // Worker: a newer snapshot. True when an update must be built now (nothing in flight).
  bool Offer(const config::SnapshotPtr& target);

  // Worker: takes the pending target when nothing is in flight.
  std::optional<Plan> TakePending();

  // Worker: starts sending `update`, built from TakePending's plan, which brings the client to
  // `target`. Null or empty means nothing the filter covers changed: the client keeps its base,
  // so a later delta still starts from what it holds. True when the first chunk must be written
  // now.
  bool StartUpdate(config::SnapshotPtr target, UpdatePtr update);

  // The update being written (null when none) and the index of its chunk to write now.
  const UpdatePtr& in_flight() const { return in_flight_.update(); }
  size_t chunk_index() const { return next_chunk_; }
  // Write path and worker: chunk chunk_index() of in_flight(), to write now.
  ChunkPtr TakeChunk() { return in_flight_.Take(next_chunk_); }

  // Write path: chunk chunk_index() of in_flight() was written. Only while an update is in flight.
  Next ChunkWritten();

  // The snapshot the client holds: the last one fully sent, or resumed from. Null before.
  const config::SnapshotPtr& sent() const { return sent_; }
  uint64_t updates_sent() const { return updates_sent_; }

  // Read path: the client's verdict on a config. An ack clears the last nack.
  void Ack(const std::string& config_hash);
  void Nack(const std::string& config_hash);
  const std::string& acked_hash() const { return acked_hash_; }
  const std::string& nacked_hash() const { return nacked_hash_; }

 private:
  bool subscribed_ = false;
  bool closed_ = false;
  bool initialised_ = false;
  config::TypeFilter filter_;
  UpdateMode mode_ = UpdateMode::kFull;
  std::string resume_hash_;

  config::SnapshotPtr sent_;
  // The newest snapshot not yet started; replaced by newer ones (latest wins).
  config::SnapshotPtr pending_;
  // The update being written, chunk by chunk, and the snapshot it brings the client to.
  ChunkReader in_flight_;
  config::SnapshotPtr in_flight_target_;
  size_t next_chunk_ = 0;
  uint64_t updates_sent_ = 0;

  std::string acked_hash_;
  std::string nacked_hash_;
};

}  // namespace tether::api

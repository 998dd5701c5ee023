// ConfigFanout: the ConfigService's shared core. The registry of its streams, the worker thread
// that builds updates for them (never a gRPC callback thread, never the decode thread) and the
// UpdateCache that thread owns.
//
// Why a worker: building an update costs a snapshot's size; done once per (base, target, filter)
// on one thread, and offered to every Watch stream, publishing never waits for subscribers and
// subscribers with the same needs share the bytes (update_cache.h).
//
// Lifecycle: the ConfigService owns it and drops the store observer that wakes it (OnPublish)
// first, which waits for a call in progress. Streams point to it raw: gRPC ends them all (OnDone)
// before its Shutdown returns, which is before the service goes.
//
// Threading: thread-safe. mu_ guards streams_, watches_, refusal_log_, tasks_, dirty_,
// shutting_down_, stopping_ and stats_. cache_ is touched only by the worker thread (Run and the
// tasks it runs).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "sidecar/api/log_throttle.h"
#include "sidecar/api/update_cache.h"
#include "sidecar/common/mutex.h"
#include "sidecar/config/snapshot_store.h"
#include "sidecar/status/status_board.h"

namespace tether::api {

// What every stream finishes with when the service shuts down.
inline constexpr char kShuttingDown[] = "tether is shutting down";

// Refused Watch streams are logged at most once per this (counted every time).
inline constexpr absl::Duration kRefusalLogInterval = absl::Seconds(10);

// A stream the fan-out keeps alive until gRPC is done with it (OnDone).
class Stream {
 public:
  virtual ~Stream() = default;
  // Finishes with UNAVAILABLE kShuttingDown unless already finished.
  virtual void FinishForShutdown() = 0;
};

class WatchReactor;

class ConfigFanout {
 public:
  using Task = std::function<void()>;

  ConfigFanout(config::SnapshotStore& store, status::StatusBoard& status, size_t max_chunk_bytes,
               size_t update_cache_bytes, size_t max_subscribers);
  ~ConfigFanout() { Stop(); }

  config::SnapshotStore& store() { return store_; }
  status::StatusBoard& status() { return status_; }

  // Store observer, on the decode thread: only flags the worker, so publishing never waits for
  // subscribers.
  void OnPublish();

  // Keeps `stream` alive until Unregister; `watch` is the same object when it is a Watch stream
  // (which snapshots are offered to), else null. Unavailable when shutting down, and
  // ResourceExhausted (counted on the status board) for a Watch stream beyond max_subscribers:
  // the caller finishes the stream at once with that status.
  absl::Status Register(std::shared_ptr<Stream> stream, std::shared_ptr<WatchReactor> watch);
  // From OnDone. The stream may be destroyed by this call, outside mu_.
  void Unregister(Stream* stream);

  // Runs `task` on the worker; dropped once stopping.
  void Post(Task task);

  // Finishes every stream with UNAVAILABLE; later Registers return false.
  void BeginShutdown();
  // Joins the worker and drops the tasks it did not run. Idempotent.
  void Stop();

  // Worker thread only: the update for (base, target, filter, mode) from the cache (see
  // UpdateCache::Get); evictions are counted on the status board. Internal, logged, when
  // building it threw (a bug or out of memory).
  absl::StatusOr<UpdatePtr> GetUpdate(const config::SnapshotPtr& base,
                                      const config::SnapshotPtr& target,
                                      const config::TypeFilter& filter, UpdateMode mode,
                                      UpdateCache::Keep keep = UpdateCache::Keep::kCache);
  // Worker thread only: builds and starts `watch`'s pending update, if it has one and nothing is
  // in flight.
  void BuildFor(const std::shared_ptr<WatchReactor>& watch);

  // The cache's counters as of the last GetUpdate.
  UpdateCache::Stats Stats() const;

 private:
  struct Registered {
    std::shared_ptr<Stream> stream;
    std::shared_ptr<WatchReactor> watch;  // null for GetConfig streams
  };
  // A stream's next update, built and not yet started.
  struct Built {
    std::shared_ptr<WatchReactor> watch;
    config::SnapshotPtr target;
    UpdatePtr update;
  };
  // Worker thread only: builds `watch`'s pending update, if it has one and nothing is in flight.
  std::optional<Built> Build(const std::shared_ptr<WatchReactor>& watch);

  void Run();

  config::SnapshotStore& store_;
  status::StatusBoard& status_;

  mutable Mutex mu_;
  std::map<Stream*, Registered> streams_ ABSL_GUARDED_BY(mu_);
  // Bounded: a stream posts at most one task per event it owns (its subscribe, the end of each
  // update it sends, its GetConfig), and each waits for the worker before the next.
  std::vector<Task> tasks_ ABSL_GUARDED_BY(mu_);
  // Registered Watch streams (those with a `watch`), at most max_subscribers_.
  const size_t max_subscribers_;
  size_t watches_ ABSL_GUARDED_BY(mu_) = 0;
  LogThrottle refusal_log_ ABSL_GUARDED_BY(mu_) = LogThrottle(kRefusalLogInterval);
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  UpdateCache::Stats stats_ ABSL_GUARDED_BY(mu_);  // a copy of cache_'s, for tests

  UpdateCache cache_;   // worker thread only
  std::thread worker_;  // last: starts after every other member is ready
};

}  // namespace tether::api

// LatestWinsWorker runs a handler on its own thread for the newest submitted item only.
//
// Why: a control plane can push configs faster than a large one decodes. Like Kong's data plane
// (kong-protocol.md §3.6, one `next_data` slot), an item that arrives while another is being
// handled replaces any item still pending, so the worker never falls behind by more than one.
//
// Threading: thread-safe. Submit and Stop may be called from any thread; the handler runs on the
// worker's thread, one item at a time. mu_ guards pending_, busy_ and stopping_.
#pragma once

#include <functional>
#include <optional>
#include <thread>
#include <utility>

#include "sidecar/common/mutex.h"

namespace tether {

template <typename T>
class LatestWinsWorker {
 public:
  using Handler = std::function<void(T)>;

  explicit LatestWinsWorker(Handler handler)
      : handler_(std::move(handler)), thread_([this] { Run(); }) {}
  ~LatestWinsWorker() { Stop(); }

  LatestWinsWorker(const LatestWinsWorker&) = delete;
  LatestWinsWorker& operator=(const LatestWinsWorker&) = delete;

  // Queues `item`, replacing a pending one. Returns true when a pending item was dropped.
  // Items submitted after Stop are dropped.
  bool Submit(T item) {
    MutexLock lock(&mu_);
    if (stopping_) return false;
    const bool replaced = pending_.has_value();
    pending_.emplace(std::move(item));
    return replaced;
  }

  // Drops any pending item and refuses new ones; the running handler (if any) carries on.
  void RequestStop() {
    MutexLock lock(&mu_);
    stopping_ = true;
    pending_.reset();
  }

  // RequestStop, then returns once the running handler (if any) has returned.
  // Idempotent; must not be called from the handler itself.
  void Stop() {
    RequestStop();
    if (thread_.joinable()) thread_.join();
  }

  // Waits until nothing is pending or running (items submitted meanwhile are waited for too).
  void Flush() {
    MutexLock lock(&mu_);
    mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return stopping_ || (!pending_.has_value() && !busy_);
    });
  }

 private:
  void Run() {
    while (true) {
      T item;
      {
        MutexLock lock(&mu_);
        mu_.Await([this]()
                      ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_ || pending_.has_value(); });
        if (stopping_) return;
        item = std::move(*pending_);
        pending_.reset();
        busy_ = true;
      }
      handler_(std::move(item));
      MutexLock lock(&mu_);
      busy_ = false;
    }
  }

  const Handler handler_;
  Mutex mu_;
  std::optional<T> pending_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after every other member is ready
};

}  // namespace tether

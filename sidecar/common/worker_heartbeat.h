// WorkerHeartbeat: lets /livez ask a worker thread that is not an event loop (the config decode
// worker) whether it still makes progress.
//
// Why: a heartbeat can be posted to an io_context, but the decode worker runs nothing but config
// frames, and its latest-wins slot would let a heartbeat replace a frame. So the worker marks
// each job with Busy(), and a heartbeat posted meanwhile runs on the worker's thread as soon as
// the job ends; posted while idle, it runs at once. To /livez this reads exactly like an event
// loop: a job that overruns the loop's bound shows as a heartbeat that did not run in time.
//
// Threading: thread-safe. mu_ guards busy_ and waiting_. Heartbeats run outside mu_, on the
// thread that ends the job or on Post's caller; they must be quick.
#pragma once

#include <functional>
#include <vector>

#include "sidecar/common/mutex.h"

namespace tether {

class WorkerHeartbeat {
 public:
  // Marks the worker busy from construction to destruction (one job).
  class [[nodiscard]] BusyScope {
   public:
    explicit BusyScope(WorkerHeartbeat& owner) : owner_(owner) { owner_.Begin(); }
    ~BusyScope() { owner_.End(); }
    BusyScope(const BusyScope&) = delete;
    BusyScope& operator=(const BusyScope&) = delete;

   private:
    WorkerHeartbeat& owner_;
  };

  // On the worker's thread, around each job. Jobs do not nest.
  BusyScope Busy() { return BusyScope(*this); }

  // Runs `beat` now when the worker is idle, else when its current job ends.
  void Post(std::function<void()> beat);

 private:
  void Begin();
  void End();

  Mutex mu_;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> waiting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether

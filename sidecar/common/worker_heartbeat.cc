#include "sidecar/common/worker_heartbeat.h"

#include <utility>

namespace tether {

void WorkerHeartbeat::Post(std::function<void()> beat) {
  {
    MutexLock lock(&mu_);
    if (busy_) {
      waiting_.push_back(std::move(beat));
      return;
    }
  }
  beat();
}

void WorkerHeartbeat::Begin() {
  MutexLock lock(&mu_);
  busy_ = true;
}

void WorkerHeartbeat::End() {
  std::vector<std::function<void()>> due;
  {
    MutexLock lock(&mu_);
    busy_ = false;
    due.swap(waiting_);
  }
  for (std::function<void()>& beat : due) beat();
}

}  // namespace tether

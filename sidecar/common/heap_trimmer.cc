// HeapTrimmer (see heap_trimmer.h).
#include "sidecar/common/heap_trimmer.h"

#include <malloc.h>

#include <utility>

#include "absl/time/clock.h"

namespace tether {

void HeapTrimmer::TrimHeap() { malloc_trim(0); }

HeapTrimmer::HeapTrimmer(std::function<void()> trim, std::vector<absl::Duration> schedule)
    : trim_(std::move(trim)), schedule_(std::move(schedule)), thread_([this] { Run(); }) {}

HeapTrimmer::~HeapTrimmer() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void HeapTrimmer::Poke() {
  MutexLock lock(&mu_);
  ++pokes_;
}

void HeapTrimmer::Run() {
  MutexLock lock(&mu_);
  uint64_t seen = 0;
  while (true) {
    mu_.Await([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_ || pokes_ != seen; });
    if (stopping_) return;
    // A schedule from this poke; a later poke restarts it from there.
    seen = pokes_;
    const absl::Time poked_at = absl::Now();
    for (const absl::Duration delay : schedule_) {
      const absl::Duration wait = poked_at + delay - absl::Now();
      if (mu_.AwaitWithTimeout(
              [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_ || pokes_ != seen; }, wait)) {
        break;
      }
      mu_.Unlock();
      trim_();
      mu_.Lock();
    }
  }
}

}  // namespace tether

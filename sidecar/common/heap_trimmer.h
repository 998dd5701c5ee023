// HeapTrimmer: gives the memory a config change frees back to the OS.
//
// Why: glibc keeps freed memory in its arenas (one per thread that allocated, up to 8 per core)
// and returns to the OS only what lies at the top of each. After a change of a large config the
// decode's parse structures, the previous snapshot's text and the updates serialised for the
// subscribers are freed in the middle of those arenas, so RSS stayed far above what tether
// holds: with the large preset (27.8 MiB of JSON) the live heap after three changes was 39 MiB,
// RSS 114 MiB above base, and one malloc_trim(0) brought RSS to 40 MiB above base
// (BENCHMARKS.md, issue #13).
//
// After each Poke (the app pokes once per frame the pipeline handles and whenever a subscriber has
// been sent a whole update) the trimmer trims at the delays of its schedule, counted from the
// last poke: a quarter second after a burst of work ends, and again later for what slow
// subscribers free; then it sleeps until the next poke. A poke during the schedule starts it
// again, so a busy fan-out is never interrupted by trims, and nothing runs while the config does
// not change: idle CPU is unaffected. A trim takes milliseconds.
//
// Threading: Poke from any thread; trims run on the trimmer's own thread.
#pragma once

#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "sidecar/common/mutex.h"

namespace tether {

class HeapTrimmer {
 public:
  // malloc_trim(0).
  static void TrimHeap();

  // `trim` runs at each delay of `schedule` (ascending) after the last Poke.
  explicit HeapTrimmer(std::function<void()> trim = TrimHeap,
                       std::vector<absl::Duration> schedule = {
                           absl::Milliseconds(250), absl::Seconds(5), absl::Seconds(30)});
  // Stops at once, a schedule under way or not.
  ~HeapTrimmer();

  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  void Poke();

 private:
  void Run();

  const std::function<void()> trim_;
  const std::vector<absl::Duration> schedule_;
  Mutex mu_;
  // Bumped by each Poke, so that a wait can tell a new poke from a spurious wake-up.
  uint64_t pokes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the rest is initialised
};

}  // namespace tether

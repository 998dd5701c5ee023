// HeapTrimmer: each poke runs its whole schedule of trims, a poke during a schedule starts it
// again, and destruction does not wait for a schedule under way. The trim is a counter here; the
// memory it gives back is measured by tether-load's memory scenario (BENCHMARKS.md).
#include "sidecar/common/heap_trimmer.h"

#include <gtest/gtest.h>

#include <memory>

#include "absl/time/clock.h"
#include "sidecar/common/mutex.h"

namespace tether {
namespace {

constexpr absl::Duration kWait = absl::Seconds(60);

class TrimCounter {
 public:
  std::function<void()> Trim() {
    return [this] {
      MutexLock lock(&mu_);
      ++trims_;
    };
  }
  // Whether `n` trims happened within the generous wait.
  bool AwaitTrims(int n) {
    MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return trims_ >= n; },
                                kWait);
  }
  int trims() {
    MutexLock lock(&mu_);
    return trims_;
  }

 private:
  Mutex mu_;
  int trims_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(HeapTrimmerTest, NothingRunsBeforeAPoke) {
  TrimCounter counter;
  { HeapTrimmer trimmer(counter.Trim(), {absl::ZeroDuration()}); }
  EXPECT_EQ(counter.trims(), 0);
}

TEST(HeapTrimmerTest, EachPokeRunsTheWholeSchedule) {
  TrimCounter counter;
  HeapTrimmer trimmer(counter.Trim(),
                      {absl::Milliseconds(1), absl::Milliseconds(2), absl::Milliseconds(3)});
  trimmer.Poke();
  ASSERT_TRUE(counter.AwaitTrims(3));
  // The schedule ended: the next poke starts a new one.
  trimmer.Poke();
  ASSERT_TRUE(counter.AwaitTrims(6));
}

// A schedule whose second step is far away: a poke after the first trim starts over, so the
// first step runs again long before the second would have.
TEST(HeapTrimmerTest, APokeRestartsTheSchedule) {
  TrimCounter counter;
  HeapTrimmer trimmer(counter.Trim(), {absl::ZeroDuration(), absl::Hours(1)});
  trimmer.Poke();
  ASSERT_TRUE(counter.AwaitTrims(1));
  trimmer.Poke();
  ASSERT_TRUE(counter.AwaitTrims(2));
}

// Destruction while a step is an hour away returns at once rather than waiting for it.
TEST(HeapTrimmerTest, StopsMidSchedule) {
  TrimCounter counter;
  const absl::Time start = absl::Now();
  {
    HeapTrimmer trimmer(counter.Trim(), {absl::ZeroDuration(), absl::Hours(1)});
    trimmer.Poke();
    ASSERT_TRUE(counter.AwaitTrims(1));
  }
  EXPECT_LT(absl::Now() - start, kWait);
  EXPECT_EQ(counter.trims(), 1);
}

}  // namespace
}  // namespace tether

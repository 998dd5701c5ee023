#include "sidecar/common/latest_wins_worker.h"

#include <vector>

#include "gtest/gtest.h"
#include "sidecar/common/mutex.h"

namespace tether {
namespace {

// While the handler is busy with item 1, items 2..5 arrive: only 5 is handled next.
TEST(LatestWinsWorkerTest, NewestPendingItemWins) {
  Notification first_started, release_first;
  Mutex mu;
  std::vector<int> handled;
  LatestWinsWorker<int> worker([&](int item) {
    if (item == 1) {
      first_started.Notify();
      release_first.WaitForNotification();
    }
    MutexLock lock(&mu);
    handled.push_back(item);
  });
  EXPECT_FALSE(worker.Submit(1));
  first_started.WaitForNotification();
  EXPECT_FALSE(worker.Submit(2));
  EXPECT_TRUE(worker.Submit(3));
  EXPECT_TRUE(worker.Submit(4));
  EXPECT_TRUE(worker.Submit(5));
  release_first.Notify();
  MutexLock lock(&mu);
  ASSERT_TRUE(mu.AwaitWithTimeout([&] { return handled.size() == 2; }, absl::Seconds(30)));
  EXPECT_EQ(handled, (std::vector<int>{1, 5}));
}

// Stop waits for the running item and drops the pending one.
TEST(LatestWinsWorkerTest, StopDropsPendingAndJoins) {
  Notification started, release;
  int handled = 0;
  LatestWinsWorker<int> worker([&](int) {
    ++handled;
    started.Notify();
    release.WaitForNotification();
  });
  worker.Submit(1);
  started.WaitForNotification();
  worker.Submit(2);
  worker.RequestStop();
  release.Notify();
  worker.Stop();
  EXPECT_EQ(handled, 1);
  EXPECT_FALSE(worker.Submit(3));
  worker.Stop();  // idempotent
}

}  // namespace
}  // namespace tether

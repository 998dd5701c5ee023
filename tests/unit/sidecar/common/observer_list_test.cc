#include "sidecar/common/observer_list.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "sidecar/common/mutex.h"

namespace tether {
namespace {

TEST(ObserverListTest, CallsInRegistrationOrderUntilHandleDropped) {
  ObserverList<int> list;
  std::vector<std::string> calls;
  auto a = list.Add([&](int v) { calls.push_back("a" + std::to_string(v)); });
  auto b = list.Add([&](int v) { calls.push_back("b" + std::to_string(v)); });
  list.Notify(1);
  b.Reset();
  list.Notify(2);
  EXPECT_EQ(calls, (std::vector<std::string>{"a1", "b1", "a2"}));
}

TEST(ObserverListTest, HandleAndListMayGoInEitherOrder) {
  int calls = 0;
  ObserverList<int>::Handle outlives;
  {
    ObserverList<int> list;
    outlives = list.Add([&](int) { ++calls; });
    list.Notify(1);
  }
  outlives.Reset();  // the list is gone: nothing to do, nothing to crash
  EXPECT_EQ(calls, 1);
}

TEST(ObserverListTest, MovedHandleKeepsTheRegistration) {
  ObserverList<int> list;
  int calls = 0;
  ObserverList<int>::Handle moved;
  {
    ObserverList<int>::Handle first = list.Add([&](int) { ++calls; });
    moved = std::move(first);
  }
  list.Notify(1);
  EXPECT_EQ(calls, 1);
}

// Dropping a handle waits for the call in progress: after Reset returns, what the observer
// points into can be destroyed.
TEST(ObserverListTest, ResetWaitsForTheCallInProgress) {
  ObserverList<int> list;
  Notification in_call, release;
  auto state = std::make_unique<int>(0);
  auto handle = list.Add([&, raw = state.get()](int v) {
    in_call.Notify();
    release.WaitForNotification();
    *raw = v;
  });
  std::thread notifier([&] { list.Notify(7); });
  in_call.WaitForNotification();
  Notification reset_done;
  std::thread resetter([&] {
    handle.Reset();
    reset_done.Notify();
  });
  // The observer is still inside its call: Reset must not have returned.
  EXPECT_FALSE(reset_done.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  release.Notify();
  resetter.join();
  notifier.join();
  EXPECT_EQ(*state, 7);
  state.reset();
  list.Notify(8);  // no longer registered: must not touch the freed state
}

}  // namespace
}  // namespace tether

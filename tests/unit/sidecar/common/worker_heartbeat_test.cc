// WorkerHeartbeat: a beat runs at once on an idle worker, and on the worker's thread when its
// current job ends.
#include "sidecar/common/worker_heartbeat.h"

#include <thread>

#include "gtest/gtest.h"
#include "sidecar/common/mutex.h"

namespace tether {
namespace {

TEST(WorkerHeartbeatTest, RunsAtOnceWhenIdle) {
  WorkerHeartbeat heartbeat;
  std::thread::id ran_on;
  heartbeat.Post([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

// Posted during a job, the beat waits for the job and then runs on the worker's thread.
TEST(WorkerHeartbeatTest, RunsWhenTheJobEnds) {
  WorkerHeartbeat heartbeat;
  Notification busy;
  Notification release;
  Notification beaten;
  std::thread::id ran_on;
  std::thread worker([&] {
    WorkerHeartbeat::BusyScope job = heartbeat.Busy();
    busy.Notify();
    release.WaitForNotification();
  });
  busy.WaitForNotification();
  heartbeat.Post([&] {
    ran_on = std::this_thread::get_id();
    beaten.Notify();
  });
  EXPECT_FALSE(beaten.HasBeenNotified());
  release.Notify();
  beaten.WaitForNotification();
  EXPECT_EQ(ran_on, worker.get_id());
  worker.join();
}

}  // namespace
}  // namespace tether

// The pipeline's contract without a socket: latest wins while a frame decodes, the applied hash
// goes back after each apply, a failing apply stops the pipeline and is reported once, and the
// worker counts as busy for /livez while it decodes.
#include "sidecar/pipeline/pipeline.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sidecar/common/mutex.h"

namespace tether::pipeline {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

Frame F(std::string bytes) { return Frame{std::move(bytes), absl::Now()}; }

TEST(PipelineTest, NewestFrameWinsWhileOneDecodes) {
  Notification first_started, release_first;
  Mutex mu;
  std::vector<std::string> applied_frames;  // guarded by mu
  std::vector<std::string> hashes_back;     // guarded by mu
  Pipeline pipeline(
      [&](Frame frame) -> std::optional<std::string> {
        if (frame.bytes == "1") {
          first_started.Notify();
          release_first.WaitForNotification();
        }
        MutexLock lock(&mu);
        applied_frames.push_back(frame.bytes);
        return "hash-" + frame.bytes;
      },
      [&](std::string hash) {
        MutexLock lock(&mu);
        hashes_back.push_back(std::move(hash));
      },
      nullptr);
  pipeline.Submit(F("1"));
  first_started.WaitForNotification();
  for (const char* later : {"2", "3", "4"}) pipeline.Submit(F(later));
  release_first.Notify();
  pipeline.Flush();
  MutexLock lock(&mu);
  EXPECT_EQ(applied_frames, (std::vector<std::string>{"1", "4"}));
  EXPECT_EQ(hashes_back, (std::vector<std::string>{"hash-1", "hash-4"}));
}

TEST(PipelineTest, RejectedFrameSendsNoHashBack) {
  int hashes_back = 0;
  Pipeline pipeline([](Frame) -> std::optional<std::string> { return std::nullopt; },
                    [&](std::string) { ++hashes_back; }, nullptr);
  pipeline.Submit(F("bad"));
  pipeline.Flush();
  EXPECT_EQ(hashes_back, 0);
}

TEST(PipelineTest, ThrowingApplyStopsThePipelineAndReportsOnce) {
  Notification failed;
  int failures = 0;
  int applies = 0;
  Pipeline pipeline(
      [&](Frame) -> std::optional<std::string> {
        ++applies;
        throw std::runtime_error("boom");
      },
      nullptr,
      [&](const absl::Status& why) {
        ++failures;
        EXPECT_NE(why.message().find("boom"), absl::string_view::npos) << why;
        failed.Notify();
      });
  pipeline.Submit(F("1"));
  ASSERT_TRUE(failed.WaitForNotificationWithTimeout(kWait));
  pipeline.Submit(F("2"));  // dropped: the pipeline has stopped
  pipeline.Flush();
  pipeline.Stop();
  EXPECT_EQ(applies, 1);
  EXPECT_EQ(failures, 1);
}

// A heartbeat posted while a frame decodes runs only when the decode ends (what /livez reads).
TEST(PipelineTest, HeartbeatWaitsForTheDecodeInProgress) {
  Notification started, release;
  Pipeline pipeline(
      [&](Frame) -> std::optional<std::string> {
        started.Notify();
        release.WaitForNotification();
        return std::nullopt;
      },
      nullptr, nullptr);
  pipeline.Submit(F("1"));
  started.WaitForNotification();
  Notification beat;
  pipeline.heartbeat().Post([&] { beat.Notify(); });
  EXPECT_FALSE(beat.HasBeenNotified());
  release.Notify();
  EXPECT_TRUE(beat.WaitForNotificationWithTimeout(kWait));
}

}  // namespace
}  // namespace tether::pipeline

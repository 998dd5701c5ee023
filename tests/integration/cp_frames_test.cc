// Frames as the session hands them to the pipeline: whole and byte for byte, whatever their size
// against the session's read chunks, one message after another on the same connection.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "sidecar/common/mutex.h"
#include "tests/integration/session_harness.h"
#include "tests/testing/testing.h"
#include "tools/devcp/control_plane.h"

namespace tether {
namespace {

using testing::kWait;

// Bytes no compression or run-length trick makes regular: a frame of n of them is n bytes.
std::string Noise(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  for (char& c : out) {
    seed = seed * 1664525u + 1013904223u;
    c = static_cast<char>(seed >> 24);
  }
  return out;
}

class SessionFramesTest : public testing::SessionTest {};

TEST_F(SessionFramesTest, FramesArriveWholeWhateverTheirSize) {
  Mutex mu;
  std::vector<std::string> frames;  // guarded by mu
  StartCp();
  StartSession(Options("127.0.0.1", cp_->port()), [&](std::string frame, absl::Time) {
    MutexLock lock(&mu);
    frames.push_back(std::move(frame));
  });
  ASSERT_TRUE(cp_->WaitForEvent(devcp::OfKind(devcp::EventKind::kBasicInfo), kWait));
  // Around the session's 256 KiB read chunk: exactly one, several and a bit, and small ones.
  const std::vector<std::string> sent = {Noise(100, 1), Noise(256 << 10, 2),
                                         Noise((3 << 20) + 12345, 3), Noise(7, 4)};
  for (const std::string& frame : sent) cp_->PushRawFrame(frame);
  MutexLock lock(&mu);
  ASSERT_TRUE(mu.AwaitWithTimeout(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return !frames.empty() && frames.back() == sent.back();
      },
      kWait));
  // Whatever devcp pushed on connecting came first.
  ASSERT_GE(frames.size(), sent.size());
  const size_t first = frames.size() - sent.size();
  for (size_t i = 0; i < sent.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(frames[first + i].size(), sent[i].size());
    EXPECT_TRUE(frames[first + i] == sent[i]);
  }
}

}  // namespace
}  // namespace tether

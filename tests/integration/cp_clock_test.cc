// The session's waits follow its clock: with a FakeClock, the reconnect backoff and the pong
// deadline pass when the test advances the clock, not with real time. A bare cp::Session against
// a refusing port and against tether-devcp on loopback.
#include <memory>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/common/clock.h"
#include "tests/integration/session_harness.h"
#include "tests/testing/testing.h"
#include "tools/devcp/control_plane.h"

namespace tether {
namespace {

using devcp::EventKind;
using devcp::OfKind;
using status::ConnectionInfo;
using status::ConnectionState;
using status::FailureCause;
using ::testing::HasSubstr;
using testing::kWait;

// Real time given to a timer that must not fire: a wait that goes on signals nothing, so a
// negative check can only look after a while. Many of Timer's 5 ms slices under a FakeClock.
constexpr absl::Duration kQuiet = absl::Milliseconds(100);
// How soon after an Advance a due timer's effect must show, with room for a slow machine.
constexpr absl::Duration kPrompt = absl::Seconds(2);

class SessionClockTest : public testing::SessionTest {
 protected:
  // To devcp, pinging every 30 s with a 45 s pong deadline, on the fake clock; returns once the
  // first ping (sent on connecting) has its pong.
  void ConnectWithPings() {
    StartCp();
    cp::SessionOptions o = Options("127.0.0.1", cp_->port());
    o.ping_interval = absl::Seconds(30);
    o.ping_timeout = absl::Seconds(45);
    o.clock = &clock_;
    StartSession(std::move(o));
    recorder_.Await([](const ConnectionInfo& i) { return i.last_pong_at != absl::InfinitePast(); });
  }

  FakeClock clock_;
};

// After a refused attempt, a 30 s backoff holds the next one until the clock has moved 30 s, and
// then it comes at once.
TEST_F(SessionClockTest, BackoffWaitsForTheClock) {
  testing::RefusingPort refusing;
  cp::SessionOptions o = Options("127.0.0.1", refusing.port());
  o.backoff.min = o.backoff.max = absl::Seconds(30);
  o.clock = &clock_;
  StartSession(std::move(o));
  // Disconnected is also the state before the first attempt.
  const ConnectionInfo first = recorder_.Await([](const ConnectionInfo& i) {
    return i.attempts == 1 && i.state == ConnectionState::kDisconnected;
  });
  EXPECT_EQ(first.attempts, 1u);
  EXPECT_EQ(first.last_cause, FailureCause::kRefused);
  EXPECT_EQ(first.retry_in, absl::Seconds(30));

  clock_.Advance(absl::Seconds(29));
  absl::SleepFor(kQuiet);
  EXPECT_EQ(recorder_.Latest().attempts, 1u);

  const absl::Time advanced_at = absl::Now();
  clock_.Advance(absl::Seconds(1));
  recorder_.Await([](const ConnectionInfo& i) { return i.attempts == 2; });
  EXPECT_LT(absl::Now() - advanced_at, kPrompt);
}

// A Kong Enterprise CP under a reconnect storm answers 429 with Retry-After: 30. With a backoff of
// 10 ms, the next attempt still waits the 30 s asked (and at most a tenth more, the jitter).
TEST_F(SessionClockTest, RetryAfterHoldsTheNextAttempt) {
  devcp::Options busy = CpOptions();
  busy.busy_upgrades = 1;
  busy.busy_retry_after = absl::Seconds(30);
  StartCpWith(busy);
  cp::SessionOptions o = Options("127.0.0.1", cp_->port());
  o.backoff.min = o.backoff.max = absl::Milliseconds(10);
  o.clock = &clock_;
  StartSession(std::move(o));
  const ConnectionInfo first = recorder_.Await([](const ConnectionInfo& i) {
    return i.attempts == 1 && i.state == ConnectionState::kDisconnected;
  });
  EXPECT_EQ(first.last_cause, FailureCause::kCpBusy);
  EXPECT_GE(first.retry_in, absl::Seconds(30));
  EXPECT_LE(first.retry_in, absl::Seconds(33));
  EXPECT_EQ(first.retry_after_waits, 1u);
  EXPECT_THAT(first.last_error.message(), HasSubstr("429"));

  clock_.Advance(absl::Seconds(29));
  absl::SleepFor(kQuiet);
  EXPECT_EQ(recorder_.Latest().attempts, 1u);

  clock_.Advance(absl::Seconds(4));
  recorder_.Await([](const ConnectionInfo& i) { return i.state == ConnectionState::kConnected; });
}

// A CP that stops answering (frozen: nothing read or written) is given up on when 45 s of the
// clock pass without a pong, and not a moment before.
TEST_F(SessionClockTest, PongDeadlineFollowsTheClock) {
  ConnectWithPings();
  cp_->Freeze();
  clock_.Advance(absl::Seconds(30));  // the second ping goes out, unanswered
  clock_.Advance(absl::Seconds(14));
  absl::SleepFor(kQuiet);
  EXPECT_EQ(recorder_.Latest().state, ConnectionState::kConnected);

  const absl::Time advanced_at = absl::Now();
  clock_.Advance(absl::Seconds(1));
  const ConnectionInfo ended = recorder_.Await(
      [](const ConnectionInfo& i) { return i.state == ConnectionState::kDisconnected; });
  EXPECT_LT(absl::Now() - advanced_at, kPrompt);
  EXPECT_EQ(ended.last_cause, FailureCause::kNoPong);
  EXPECT_THAT(std::string(ended.last_error.message()), HasSubstr("within 45s"));
  EXPECT_EQ(ended.attempts, 1u);
  cp_->Unfreeze();
}

// Each ping on the clock's schedule is answered, and each pong moves the deadline: 60 s of the
// clock pass with a connection that stays up.
TEST_F(SessionClockTest, PongsKeepTheConnectionAcrossTheClock) {
  ConnectWithPings();
  for (int ping = 2; ping <= 3; ++ping) {
    clock_.Advance(absl::Seconds(30));
    ASSERT_TRUE(cp_->WaitForEventCount(OfKind(EventKind::kPing), ping, kWait));
    const absl::Time now = clock_.Now();
    recorder_.Await([now](const ConnectionInfo& i) { return i.last_pong_at == now; });
  }
  const ConnectionInfo info = recorder_.Latest();
  EXPECT_EQ(info.state, ConnectionState::kConnected);
  EXPECT_EQ(info.attempts, 1u);
}

// The session refuses a clock its timers do not follow: they would disagree on every deadline.
TEST_F(SessionClockTest, RefusesAClockItsTimersDoNotFollow) {
  cp::SessionOptions o = Options("127.0.0.1", 1);
  o.clock = &Clock::Real();  // while clock_, a FakeClock, exists
  cp::SessionCallbacks callbacks;
  callbacks.on_frame = [](std::string, absl::Time) {};
  auto session = cp::Session::Create(io_, std::move(o), std::move(callbacks));
  EXPECT_TRUE(absl::IsInvalidArgument(session.status())) << session.status();
}

}  // namespace
}  // namespace tether

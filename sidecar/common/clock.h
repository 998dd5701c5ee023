// Clock: the time that drives behaviour (reconnect backoff, ping schedule, pong and connect
// deadlines, certificate checks), injected so that tests can move it instead of waiting; and
// FakeClock, the tests' clock, whose time moves only when the test says so.
//
// Timers follow the seam too: tether::Timer (common/asio.h) runs on the steady time TimerNow()
// gives, which is the real steady clock, or the FakeClock's while one exists. Asio's timer clocks
// are static (a timer's type names its clock), so that part is process-wide rather than injected:
// a FakeClock moves every tether::Timer in the process, and at most one exists at a time. Code
// that takes a Clock and also waits on Timers should refuse a clock other than
// Clock::ForTimers(), so that what it reads and what it waits on cannot disagree.
//
// Threading: thread-safe; Now and TimerNow may be called from any thread, Advance too.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tether {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // `t`, a finite time by this clock, on tether::Timer's steady clock: exact for a FakeClock, so
  // that a deadline computed from Now() stays put when the clock moves before the timer is armed.
  virtual std::chrono::steady_clock::time_point TimerTime(absl::Time t) const = 0;

  // absl::Now().
  static const Clock& Real();
  // The clock tether::Timer follows: the FakeClock while one exists, otherwise Real().
  static const Clock& ForTimers();
};

// For tests. Time stands still from construction until Advance; meanwhile every tether::Timer
// follows it, and its waits are cut into short real slices so that a timer made due by Advance
// fires within milliseconds.
class FakeClock final : public Clock {
 public:
  // Starts at `start`: the real time by default, so that certificates stay valid.
  explicit FakeClock(absl::Time start = absl::Now());
  ~FakeClock() override;
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  absl::Time Now() const override;
  std::chrono::steady_clock::time_point TimerTime(absl::Time t) const override;
  // Moves this clock and every tether::Timer forward by `d` (>= 0).
  void Advance(absl::Duration d);

 private:
  const absl::Time start_;
  const std::chrono::steady_clock::time_point timer_start_;  // the Timers' time at start_
  std::atomic<int64_t> advanced_ns_{0};
};

// For tether::Timer's clock (common/asio.h): the real steady time, or a FakeClock's.
std::chrono::steady_clock::time_point TimerNow();
// Whether a FakeClock exists, so that timer waits must be sliced to notice its Advance.
bool TimersFollowFakeClock();

}  // namespace tether

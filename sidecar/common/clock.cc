// Clock::Real and the FakeClock, with the process-wide state tether::Timer reads (see clock.h).
#include "sidecar/common/clock.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace tether {
namespace {

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  std::chrono::steady_clock::time_point TimerTime(absl::Time t) const override {
    return std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(t - absl::Now());
  }
};

// Values rather than a pointer to the FakeClock, so that a timer that outlives it reads no freed
// memory. The steady time is nanoseconds since the steady clock's epoch.
std::atomic<const FakeClock*> g_fake{nullptr};
std::atomic<int64_t> g_fake_steady_ns{0};

}  // namespace

const Clock& Clock::Real() {
  static const RealClock* const real = new RealClock();
  return *real;
}

const Clock& Clock::ForTimers() {
  const FakeClock* fake = g_fake.load(std::memory_order_acquire);
  return fake != nullptr ? *fake : Real();
}

FakeClock::FakeClock(absl::Time start)
    : start_(start), timer_start_(std::chrono::steady_clock::now()) {
  g_fake_steady_ns.store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(timer_start_.time_since_epoch()).count(),
      std::memory_order_relaxed);
  const FakeClock* none = nullptr;
  if (!g_fake.compare_exchange_strong(none, this, std::memory_order_acq_rel)) {
    // Two would fight over every Timer's time.
    std::fprintf(stderr, "FakeClock: another FakeClock exists\n");
    std::abort();
  }
}

FakeClock::~FakeClock() { g_fake.store(nullptr, std::memory_order_release); }

absl::Time FakeClock::Now() const {
  return start_ + absl::Nanoseconds(advanced_ns_.load(std::memory_order_acquire));
}

std::chrono::steady_clock::time_point FakeClock::TimerTime(absl::Time t) const {
  return timer_start_ + absl::ToChronoNanoseconds(t - start_);
}

void FakeClock::Advance(absl::Duration d) {
  const int64_t ns = absl::ToInt64Nanoseconds(std::max(d, absl::ZeroDuration()));
  advanced_ns_.fetch_add(ns, std::memory_order_acq_rel);
  g_fake_steady_ns.fetch_add(ns, std::memory_order_acq_rel);
}

std::chrono::steady_clock::time_point TimerNow() {
  if (g_fake.load(std::memory_order_acquire) == nullptr) return std::chrono::steady_clock::now();
  return std::chrono::steady_clock::time_point(
      std::chrono::nanoseconds(g_fake_steady_ns.load(std::memory_order_acquire)));
}

bool TimersFollowFakeClock() { return g_fake.load(std::memory_order_relaxed) != nullptr; }

}  // namespace tether

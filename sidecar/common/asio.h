// The one include of Boost.Asio and Boost.Beast for tether.
//
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>, which breaks
// with g++ 12; including <utility> first here keeps every other file free of that trap.
// Beast with coroutines is expensive to compile (~40 s, ~1.8 GB a translation unit), so include
// this only from the few .cc files that drive sockets.
#pragma once

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <utility>

#include "absl/time/time.h"
#include "sidecar/common/clock.h"

namespace tether {
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;

// For Asio timers; a negative duration is taken as zero (expire at once).
inline std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(std::max(d, absl::ZeroDuration())));
}

// The steady clock of tether::Timer: the real one, or a FakeClock's (common/clock.h).
struct TimerSteadyClock {
  using duration = std::chrono::steady_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<TimerSteadyClock, duration>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept { return time_point(TimerNow().time_since_epoch()); }
};

// How long Asio's reactor may sleep before looking at the timers again: until the earliest is due
// by the real clock; no more than a slice while a FakeClock exists, because its Advance cannot
// wake the reactor.
struct TimerWaitTraits {
  static TimerSteadyClock::duration to_wait_duration(const TimerSteadyClock::duration& d) {
    constexpr TimerSteadyClock::duration kFakeClockSlice = std::chrono::milliseconds(5);
    return TimersFollowFakeClock() ? std::min(d, kFakeClockSlice) : d;
  }
  static TimerSteadyClock::duration to_wait_duration(const TimerSteadyClock::time_point& t) {
    return to_wait_duration(t - TimerSteadyClock::now());
  }
};

// The timer for waits that drive behaviour (backoff, pings, deadlines), so tests can move them
// with a FakeClock; a plain net::steady_timer elsewhere.
using Timer = net::basic_waitable_timer<TimerSteadyClock, TimerWaitTraits>;

// For Timer::expires_at: `when`, a time by `clock`.
inline Timer::time_point TimerDeadline(const Clock& clock, absl::Time when) {
  return Timer::time_point(clock.TimerTime(when).time_since_epoch());
}

}  // namespace tether

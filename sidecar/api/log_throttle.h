// LogThrottle: lets the first of a repeated event be logged, then at most one per interval, and
// says how many were held back in between.
//
// Why: a client that NACKs in a loop, or floods the API past its caps, must not turn each
// request into a warn line (500 NACKs with 60 KB errors once wrote 30 MB of logs in 2 s). The
// first line says what is going on; later ones say it still is, and how often.
//
// Threading: thread-compatible; each owner calls it from one path or under its own lock.
#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace tether::api {

class LogThrottle {
 public:
  explicit LogThrottle(absl::Duration interval) : interval_(interval) {}

  // Whether the event at `now` is to be logged; when it is, `suppressed` is set to how many were
  // held back since the last one logged.
  bool Allow(absl::Time now, uint64_t& suppressed) {
    if (now < next_) {
      ++suppressed_;
      return false;
    }
    next_ = now + interval_;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  const absl::Duration interval_;
  absl::Time next_ = absl::InfinitePast();
  uint64_t suppressed_ = 0;
};

}  // namespace tether::api

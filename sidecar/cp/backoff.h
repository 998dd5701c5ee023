// Backoff: reconnect delays, capped exponential growth with full jitter above a floor.
//
// Why: Kong's data plane waits a uniform 5-10 s after every failure (kong-protocol.md §5), which
// keeps a fleet of data planes hammering a CP that is down. We keep Kong's first delay (uniform
// in [min, 2*min]) and double the ceiling on each consecutive failure up to `max`, so a fleet
// spreads out; a connection that stayed up for `stable_after` resets the sequence.
//
// Threading: thread-compatible (owned by the session strand).
#pragma once

#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace tether::cp {

struct BackoffPolicy {
  absl::Duration min = absl::Seconds(5);
  absl::Duration max = absl::Seconds(60);
  // A connection that lasted at least this long counts as stable and resets the backoff.
  absl::Duration stable_after = absl::Seconds(30);
};

class Backoff {
 public:
  // Returns a uniform value in [0, 1); injected so tests can pin the jitter.
  using UnitRandom = std::function<double()>;

  Backoff(BackoffPolicy policy, UnitRandom random);

  // Delay before the next attempt, given how long the connection that just ended lasted
  // (zero when it never connected).
  absl::Duration Next(absl::Duration connected_for);

  // Consecutive failures so far (0 after a reset).
  int failures() const { return failures_; }

 private:
  const BackoffPolicy policy_;
  const UnitRandom random_;
  int failures_ = 0;
};

}  // namespace tether::cp

// Backoff: reconnect delays, capped exponential growth with jitter. The one implementation behind
// the sidecar's control-plane session and the client library's config watcher.
//
// Why: Kong's data plane waits a uniform 5-10 s after every failure (kong-protocol.md §5), which
// keeps a fleet of data planes hammering a CP that is down. The ceiling doubles on each
// consecutive failure up to `max`, so a fleet spreads out; a connection that stayed up for
// `stable_after` (or an explicit Reset) starts the sequence again. The two users want different
// first delays, hence Jitter: the session keeps Kong's first delay, the watcher's first retry
// after a sidecar restart must come within `min`.
//
// Kept apart from tether_common (spdlog) so that the client library can link it alone.
//
// Threading: thread-compatible (owned by one strand or thread).
#pragma once

#include <functional>

#include "absl/time/time.h"

namespace tether {

struct BackoffPolicy {
  // How each delay is drawn below the ceiling of the current failure count.
  enum class Jitter {
    // Uniform in [min, ceiling], the ceiling starting at 2*min: Kong's first delay (uniform in
    // [min, 2*min]), then a range that widens but never drops below min.
    kAboveMin,
    // Uniform in [ceiling/2, ceiling], the ceiling starting at min: the first retry comes within
    // min, and each later one at least half the current ceiling.
    kUpperHalf,
  };

  absl::Duration min = absl::Seconds(5);
  absl::Duration max = absl::Seconds(60);
  // A connection that lasted at least this long counts as stable and resets the backoff.
  absl::Duration stable_after = absl::Seconds(30);
  Jitter jitter = Jitter::kAboveMin;
};

class Backoff {
 public:
  // Returns a value in [0, 1], uniform in [0, 1) in production; injected so tests can pin the
  // jitter.
  using UnitRandom = std::function<double()>;

  // Invariant: 0 < policy.min <= policy.max. Without `random`, draws from absl::BitGen.
  explicit Backoff(BackoffPolicy policy, UnitRandom random = nullptr);

  // Delay before the next attempt, given how long the connection that just ended lasted
  // (zero when it never connected).
  absl::Duration Next(absl::Duration connected_for);

  // Starts the sequence again, for users whose notion of progress is not time connected.
  void Reset() { failures_ = 0; }

  // Consecutive failures so far (0 after a reset).
  int failures() const { return failures_; }

 private:
  const BackoffPolicy policy_;
  const UnitRandom random_;
  int failures_ = 0;
};

}  // namespace tether

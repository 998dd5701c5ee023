#include "sidecar/cp/backoff.h"

#include <algorithm>
#include <utility>

namespace tether::cp {

Backoff::Backoff(BackoffPolicy policy, UnitRandom random)
    : policy_(policy), random_(std::move(random)) {}

absl::Duration Backoff::Next(absl::Duration connected_for) {
  if (connected_for >= policy_.stable_after) failures_ = 0;
  // Ceiling = min * 2^(failures+1), capped; the shift is bounded so it cannot overflow.
  const int doublings = std::min(failures_ + 1, 30);
  const absl::Duration ceiling = std::min(policy_.max, policy_.min * (int64_t{1} << doublings));
  ++failures_;
  if (ceiling <= policy_.min) return policy_.min;
  return policy_.min + (ceiling - policy_.min) * random_();
}

}  // namespace tether::cp

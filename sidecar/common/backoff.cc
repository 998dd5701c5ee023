// Backoff's arithmetic (see backoff.h).
#include "sidecar/common/backoff.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/random/random.h"

namespace tether {
namespace {

Backoff::UnitRandom BitGenUnitRandom() {
  // std::function needs a copyable target; absl::BitGen is move-only.
  return [bitgen = std::make_shared<absl::BitGen>()] { return absl::Uniform(*bitgen, 0.0, 1.0); };
}

}  // namespace

Backoff::Backoff(BackoffPolicy policy, UnitRandom random)
    : policy_(policy), random_(random ? std::move(random) : BitGenUnitRandom()) {}

absl::Duration Backoff::Next(absl::Duration connected_for) {
  if (connected_for >= policy_.stable_after) failures_ = 0;
  const bool above_min = policy_.jitter == BackoffPolicy::Jitter::kAboveMin;
  // Ceiling = min * 2^(failures [+1]), capped. The shift stays within int64_t; the product
  // saturates (absl::Duration does) long before it.
  const int doublings = std::min(failures_ + (above_min ? 1 : 0), 62);
  const absl::Duration ceiling = std::min(policy_.max, policy_.min * (int64_t{1} << doublings));
  ++failures_;
  const absl::Duration floor = above_min ? std::min(policy_.min, ceiling) : ceiling / 2;
  return floor + (ceiling - floor) * random_();
}

}  // namespace tether

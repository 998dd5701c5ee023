#include "sidecar/status/totals.h"

namespace tether::status {
void DecodeDurations::Observe(absl::Duration d) {
  size_t bucket = 0;
  while (bucket < kDecodeDurationBounds.size() && d > kDecodeDurationBounds[bucket]) ++bucket;
  ++counts[bucket];
  ++count;
  sum += d;
}

}  // namespace tether::status

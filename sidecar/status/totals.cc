#include "sidecar/status/totals.h"

namespace tether::status {
void DecodeDurations::Observe(absl::Duration d) {
  size_t bucket = 0;
  while (bucket < kDecodeDurationBounds.size() && d > kDecodeDurationBounds[bucket]) ++bucket;
  ++counts[bucket];
  ++count;
  sum += d;
}

absl::string_view HookOutcomeName(HookOutcome outcome) {
  switch (outcome) {
    case HookOutcome::kOk:
      return "ok";
    case HookOutcome::kFailed:
      return "failed";
    case HookOutcome::kTimeout:
      return "timeout";
  }
  return "unknown";
}

uint64_t ConnectionFailuresWithReason(const Totals& totals, absl::string_view reason) {
  uint64_t n = 0;
  for (size_t i = 0; i < kFailureCauseCount; ++i) {
    if (FailureMetricReason(static_cast<FailureCause>(i)) == reason) {
      n += totals.connection_failures[i];
    }
  }
  return n;
}

}  // namespace tether::status

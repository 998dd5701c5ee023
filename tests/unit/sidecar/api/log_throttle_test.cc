// LogThrottle: the first event is logged, then at most one per interval with the count held back.
#include "sidecar/api/log_throttle.h"

#include "gtest/gtest.h"

namespace tether::api {
namespace {

TEST(LogThrottleTest, FirstThenOnePerIntervalWithTheCountHeldBack) {
  LogThrottle throttle(absl::Seconds(10));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  uint64_t suppressed = 99;
  ASSERT_TRUE(throttle.Allow(t0, suppressed));
  EXPECT_EQ(suppressed, 0u);
  for (int i = 1; i <= 5; ++i) EXPECT_FALSE(throttle.Allow(t0 + absl::Seconds(i), suppressed));
  ASSERT_TRUE(throttle.Allow(t0 + absl::Seconds(10), suppressed));
  EXPECT_EQ(suppressed, 5u);
  EXPECT_FALSE(throttle.Allow(t0 + absl::Seconds(19), suppressed));
  ASSERT_TRUE(throttle.Allow(t0 + absl::Seconds(60), suppressed));
  EXPECT_EQ(suppressed, 1u);
}

}  // namespace
}  // namespace tether::api

#include "sidecar/cp/retry_after.h"

#include "gtest/gtest.h"

namespace tether::cp {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT

TEST(RetryAfterTest, ReadsDelaySeconds) {
  EXPECT_EQ(ParseRetryAfter("30", kNow), absl::Seconds(30));
  EXPECT_EQ(ParseRetryAfter(" 0 ", kNow), absl::ZeroDuration());
}

TEST(RetryAfterTest, ReadsAnHttpDate) {
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:50:07 GMT", kNow), absl::Seconds(30));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", kNow), absl::ZeroDuration());
}

TEST(RetryAfterTest, CapsLongWaits) {
  EXPECT_EQ(ParseRetryAfter("86400", kNow), kMaxRetryAfter);
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", kNow), kMaxRetryAfter);
  EXPECT_EQ(ParseRetryAfter("Mon, 06 Nov 1995 08:49:37 GMT", kNow), kMaxRetryAfter);
}

TEST(RetryAfterTest, RefusesAnythingElse) {
  EXPECT_EQ(ParseRetryAfter("", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("soon", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("1.5", kNow), std::nullopt);
}

}  // namespace
}  // namespace tether::cp

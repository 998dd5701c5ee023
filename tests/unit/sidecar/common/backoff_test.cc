// Backoff: both jitter shapes, the reset rules, and that delays stay within the policy.
#include "sidecar/common/backoff.h"

#include "gtest/gtest.h"

namespace tether {
namespace {

BackoffPolicy Policy() {
  return BackoffPolicy{absl::Seconds(5), absl::Seconds(60), absl::Seconds(30)};
}

// The first delay matches Kong's uniform 5-10 s; the ceiling then doubles per failure up to max.
TEST(BackoffTest, CeilingDoublesUpToMax) {
  Backoff backoff(Policy(), [] { return 0.999999; });
  EXPECT_NEAR(absl::ToDoubleSeconds(backoff.Next(absl::ZeroDuration())), 10, 0.01);
  EXPECT_NEAR(absl::ToDoubleSeconds(backoff.Next(absl::ZeroDuration())), 20, 0.01);
  EXPECT_NEAR(absl::ToDoubleSeconds(backoff.Next(absl::ZeroDuration())), 40, 0.01);
  EXPECT_NEAR(absl::ToDoubleSeconds(backoff.Next(absl::ZeroDuration())), 60, 0.01);
  for (int i = 0; i < 100; ++i) {
    EXPECT_LE(backoff.Next(absl::ZeroDuration()), absl::Seconds(60));
  }
}

// Jitter spans [min, ceiling]: the lowest draw gives the floor.
TEST(BackoffTest, LowestDrawGivesFloor) {
  Backoff backoff(Policy(), [] { return 0.0; });
  for (int i = 0; i < 10; ++i) EXPECT_EQ(backoff.Next(absl::ZeroDuration()), absl::Seconds(5));
}

TEST(BackoffTest, StableConnectionResetsSequence) {
  Backoff backoff(Policy(), [] { return 0.999999; });
  backoff.Next(absl::ZeroDuration());
  backoff.Next(absl::ZeroDuration());
  EXPECT_EQ(backoff.failures(), 2);
  EXPECT_NEAR(absl::ToDoubleSeconds(backoff.Next(absl::Seconds(31))), 10, 0.01);
  EXPECT_EQ(backoff.failures(), 1);
}

// A connection shorter than stable_after (the CP closed right after basic_info) keeps growing.
TEST(BackoffTest, ShortConnectionKeepsGrowing) {
  Backoff backoff(Policy(), [] { return 0.999999; });
  backoff.Next(absl::ZeroDuration());
  EXPECT_NEAR(absl::ToDoubleSeconds(backoff.Next(absl::Seconds(2))), 20, 0.01);
}

TEST(BackoffTest, MinEqualToMaxIsConstant) {
  Backoff backoff({absl::Milliseconds(50), absl::Milliseconds(50), absl::Seconds(1)},
                  [] { return 0.7; });
  EXPECT_EQ(backoff.Next(absl::ZeroDuration()), absl::Milliseconds(50));
  EXPECT_EQ(backoff.Next(absl::ZeroDuration()), absl::Milliseconds(50));
}

BackoffPolicy UpperHalf() {
  return BackoffPolicy{absl::Milliseconds(100), absl::Seconds(1), absl::InfiniteDuration(),
                       BackoffPolicy::Jitter::kUpperHalf};
}

// The watcher's shape: the ceiling starts at min and doubles to max; the highest draw gives it.
TEST(BackoffTest, UpperHalfCeilingStartsAtMin) {
  Backoff backoff(UpperHalf(), [] { return 1.0; });
  EXPECT_EQ(backoff.Next(absl::ZeroDuration()), absl::Milliseconds(100));
  EXPECT_EQ(backoff.Next(absl::ZeroDuration()), absl::Milliseconds(200));
  EXPECT_EQ(backoff.Next(absl::ZeroDuration()), absl::Milliseconds(400));
  EXPECT_EQ(backoff.Next(absl::ZeroDuration()), absl::Milliseconds(800));
  EXPECT_EQ(backoff.Next(absl::ZeroDuration()), absl::Seconds(1));
  EXPECT_EQ(backoff.Next(absl::ZeroDuration()), absl::Seconds(1));
}

// ... and the lowest draw gives half of it, below min on the first retry.
TEST(BackoffTest, UpperHalfLowestDrawGivesHalfCeiling) {
  Backoff backoff(UpperHalf(), [] { return 0.0; });
  EXPECT_EQ(backoff.Next(absl::ZeroDuration()), absl::Milliseconds(50));
  EXPECT_EQ(backoff.Next(absl::ZeroDuration()), absl::Milliseconds(100));
}

// The watcher resets on progress (an update delivered), not on time connected.
TEST(BackoffTest, ResetStartsAgain) {
  Backoff backoff(UpperHalf(), [] { return 1.0; });
  backoff.Next(absl::Hours(1));
  backoff.Next(absl::Hours(1));
  EXPECT_EQ(backoff.failures(), 2);
  backoff.Reset();
  EXPECT_EQ(backoff.failures(), 0);
  EXPECT_EQ(backoff.Next(absl::ZeroDuration()), absl::Milliseconds(100));
}

// Without an injected random source, draws stay within each shape's bounds, also far past the
// point where the doubling saturates.
TEST(BackoffTest, DefaultRandomStaysInBounds) {
  Backoff above_min(Policy());
  Backoff upper_half(UpperHalf());
  for (int i = 0; i < 200; ++i) {
    const absl::Duration a = above_min.Next(absl::ZeroDuration());
    EXPECT_GE(a, absl::Seconds(5));
    EXPECT_LE(a, absl::Seconds(60));
    const absl::Duration u = upper_half.Next(absl::ZeroDuration());
    EXPECT_GE(u, i == 0 ? absl::Milliseconds(50) : absl::Milliseconds(100));
    EXPECT_LE(u, absl::Seconds(1));
  }
  EXPECT_GE(upper_half.Next(absl::ZeroDuration()), absl::Milliseconds(500));
}

}  // namespace
}  // namespace tether

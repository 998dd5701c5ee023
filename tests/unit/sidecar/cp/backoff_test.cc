#include "sidecar/cp/backoff.h"

#include "gtest/gtest.h"

namespace tether::cp {
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

}  // namespace
}  // namespace tether::cp

// The subscribe rules a client developer meets: the mode the proto's zero value stands for, and
// the modes tether does not know.
#include "sidecar/api/request_validation.h"

#include <gtest/gtest.h>

namespace tether::api {
namespace {

namespace v1 = ::tether::v1;

absl::StatusOr<Subscription> Parse(int mode) {
  v1::Subscribe subscribe;
  subscribe.set_client_id("proxy");
  subscribe.set_mode(static_cast<v1::Mode>(mode));
  return ParseSubscribe(subscribe);
}

// A client that never sets the mode (proto3's zero value) gets full updates, as the proto says.
TEST(ParseSubscribeTest, UnsetModeIsServedAsFull) {
  absl::StatusOr<Subscription> unset = Parse(v1::MODE_UNSPECIFIED);
  ASSERT_TRUE(unset.ok()) << unset.status();
  EXPECT_EQ(unset->mode, UpdateMode::kFull);
  EXPECT_EQ(Parse(v1::MODE_FULL)->mode, UpdateMode::kFull);
  EXPECT_EQ(Parse(v1::MODE_DELTA)->mode, UpdateMode::kDelta);
}

// A mode from a newer API is refused rather than guessed at.
TEST(ParseSubscribeTest, UnknownModeIsInvalidArgument) {
  absl::StatusOr<Subscription> unknown = Parse(7);
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(unknown.status())) << unknown.status();
}

}  // namespace
}  // namespace tether::api

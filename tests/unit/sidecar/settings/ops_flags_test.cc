// --ops-listen and --drain-time: defaults, flag and environment, and their validation messages.
#include <string>
#include <variant>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/settings/flags.h"
#include "tests/unit/sidecar/settings/test_util.h"

namespace tether::settings {
namespace {

using testing::Concat;
using ::testing::HasSubstr;
using testing::Parse;
using testing::ParseOk;
using testing::RequiredArgs;
using testing::TempDir;

// The ops listener defaults to loopback port 8100 and the drain to 5 s.
TEST(OpsFlagsTest, Defaults) {
  TempDir dir;
  const Settings s = ParseOk(RequiredArgs(dir));
  EXPECT_EQ(s.ops_listen, (HostPort{"127.0.0.1", 8100}));
  EXPECT_EQ(s.drain_time, absl::Seconds(5));
}

// The flags and their TETHER_* variables; the listener may be a pod address, IPv6 in brackets,
// or port 0; a drain of 0s turns it off.
TEST(OpsFlagsTest, FlagsAndEnvironment) {
  TempDir dir;
  Settings s = ParseOk(Concat(RequiredArgs(dir), {"--ops-listen=0.0.0.0:9100", "--drain-time=0s"}));
  EXPECT_EQ(s.ops_listen, (HostPort{"0.0.0.0", 9100}));
  EXPECT_EQ(s.drain_time, absl::ZeroDuration());
  s = ParseOk(RequiredArgs(dir), {{"TETHER_OPS_LISTEN", "[::]:0"}, {"TETHER_DRAIN_TIME", "20s"}});
  EXPECT_EQ(s.ops_listen, (HostPort{"::", 0}));
  EXPECT_EQ(s.drain_time, absl::Seconds(20));
}

TEST(OpsFlagsTest, RejectsBadValuesWithTheirMessage) {
  struct Case {
    std::string arg;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"--ops-listen=localhost:8100", "--ops-listen host \"localhost\" must be an ip address"},
      {"--ops-listen=127.0.0.1", "missing port"},
      {"--ops-listen=127.0.0.1:65536", "must be a number from 0 to 65535"},
      {"--ops-listen=http://127.0.0.1:8100", "without a scheme"},
      {"--drain-time=-1s", "--drain-time -1s must not be negative"},
      {"--drain-time=soon", "not a duration"},
  };
  TempDir dir;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.arg);
    absl::StatusOr<ParseOutcome> outcome = Parse(Concat(RequiredArgs(dir), {c.arg}));
    ASSERT_FALSE(outcome.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(outcome.status()));
    EXPECT_THAT(std::string(outcome.status().message()), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace tether::settings

// --grpc-listen (repeatable) and --grpc-allow-non-loopback: parsing, defaults, the environment,
// and the listener rules of ValidateSettings; the API's resource bounds and reflection switch.
#include <string>
#include <variant>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/settings/flags.h"
#include "sidecar/settings/validate.h"
#include "tests/unit/sidecar/settings/test_util.h"

namespace tether::settings {

inline void PrintTo(const GrpcListenAddress& a, std::ostream* os) { *os << FormatGrpcListen(a); }

namespace {

using testing::Concat;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Parse;
using testing::ParseOk;
using testing::RequiredArgs;
using testing::TempDir;

GrpcListenAddress Unix(std::string path) {
  return {GrpcListenAddress::Kind::kUnix, std::move(path), {}};
}
GrpcListenAddress Tcp(std::string host, uint16_t port) {
  return {GrpcListenAddress::Kind::kTcp, "", {std::move(host), port}};
}

TEST(GrpcFlagsTest, DefaultsToUnixSocketInDataDirAndLoopbackOnly) {
  // Without --grpc-listen the API listens on <data-dir>/tether.sock, and only loopback is allowed.
  TempDir dir;
  const Settings s = ParseOk(RequiredArgs(dir));
  EXPECT_THAT(s.grpc_listen, ElementsAre(Unix(dir.Sub("data") + "/tether.sock")));
  EXPECT_FALSE(s.grpc_allow_non_loopback);
}

TEST(GrpcFlagsTest, RepeatedListenFlagsAccumulateInOrder) {
  // Each --grpc-listen adds an address, in both --flag=value and --flag value forms.
  TempDir dir;
  const Settings s =
      ParseOk(Concat(RequiredArgs(dir), {"--grpc-listen=unix:///run/t/a.sock", "--grpc-listen",
                                         "127.0.0.1:50051", "--grpc-listen=[::1]:0"}));
  EXPECT_THAT(s.grpc_listen,
              ElementsAre(Unix("/run/t/a.sock"), Tcp("127.0.0.1", 50051), Tcp("::1", 0)));
}

TEST(GrpcFlagsTest, EnvironmentTakesACommaSeparatedListAndFlagsWin) {
  // TETHER_GRPC_LISTEN holds a list; any --grpc-listen replaces the whole list.
  TempDir dir;
  const Settings from_env =
      ParseOk(RequiredArgs(dir), {{"TETHER_GRPC_LISTEN", "unix:///run/t.sock, 127.0.0.1:7000"}});
  EXPECT_THAT(from_env.grpc_listen, ElementsAre(Unix("/run/t.sock"), Tcp("127.0.0.1", 7000)));
  const Settings from_flag = ParseOk(Concat(RequiredArgs(dir), {"--grpc-listen=127.0.0.1:1"}),
                                     {{"TETHER_GRPC_LISTEN", "unix:///run/t.sock,127.0.0.1:7000"}});
  EXPECT_THAT(from_flag.grpc_listen, ElementsAre(Tcp("127.0.0.1", 1)));
}

TEST(GrpcFlagsTest, AllowNonLoopbackIsASwitch) {
  // The switch takes no separate value (the next flag is not swallowed); =false and the
  // environment work too.
  TempDir dir;
  const Settings on = ParseOk(
      Concat(RequiredArgs(dir), {"--grpc-allow-non-loopback", "--grpc-listen", "0.0.0.0:50051"}));
  EXPECT_TRUE(on.grpc_allow_non_loopback);
  EXPECT_THAT(on.grpc_listen, ElementsAre(Tcp("0.0.0.0", 50051)));
  EXPECT_FALSE(ParseOk(Concat(RequiredArgs(dir), {"--grpc-allow-non-loopback=false"}))
                   .grpc_allow_non_loopback);
  EXPECT_TRUE(ParseOk(RequiredArgs(dir), {{"TETHER_GRPC_ALLOW_NON_LOOPBACK", "true"}})
                  .grpc_allow_non_loopback);
}

TEST(GrpcFlagsTest, ReflectionIsOnUnlessTurnedOff) {
  TempDir dir;
  EXPECT_TRUE(ParseOk(RequiredArgs(dir)).grpc_reflection);
  EXPECT_FALSE(ParseOk(Concat(RequiredArgs(dir), {"--grpc-reflection=false"})).grpc_reflection);
  EXPECT_FALSE(ParseOk(RequiredArgs(dir), {{"TETHER_GRPC_REFLECTION", "false"}}).grpc_reflection);
}

TEST(GrpcFlagsTest, RejectsBadListenersWithTheirMessage) {
  // Each bad value is refused with a message naming the flag, the value and the rule.
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--grpc-listen=unix:relative.sock"}, "want unix:///absolute/path"},
      {{"--grpc-listen=unix:/one/slash.sock"}, "want unix:///absolute/path"},
      {{"--grpc-listen=127.0.0.1"}, "missing port"},
      {{"--grpc-listen=127.0.0.1:70000"}, "must be a number from 0 to 65535"},
      {{"--grpc-listen=::1:80"}, "put an ipv6 address in brackets"},
      {{"--grpc-listen=http://127.0.0.1:80"}, "without a scheme"},
      {{"--grpc-listen=localhost:50051"}, "host \"localhost\" must be an ip address"},
      {{"--grpc-listen=0.0.0.0:50051"},
       "--grpc-listen \"0.0.0.0:50051\" is not a loopback address"},
      {{"--grpc-listen=[::]:50051"}, "is not a loopback address"},
      {{"--grpc-listen=10.1.2.3:50051"}, "pass --grpc-allow-non-loopback"},
      {{"--grpc-listen=127.0.0.1:1", "--grpc-listen=127.0.0.1:1"}, "is given twice"},
      {{"--grpc-listen=unix:///" + std::string(120, 'x')}, "a unix socket allows at most 107"},
      {{"--grpc-allow-non-loopback=maybe"}, "want true or false"},
  };
  TempDir dir;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args.front());
    absl::StatusOr<ParseOutcome> outcome = Parse(Concat(RequiredArgs(dir), c.args));
    ASSERT_FALSE(outcome.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(outcome.status()));
    EXPECT_THAT(std::string(outcome.status().message()), HasSubstr(c.message));
  }
}

TEST(GrpcFlagsTest, LoopbackAddressesPassAndNonLoopbackPassesWhenAllowed) {
  // 127.0.0.0/8 and ::1 are loopback; anything else needs the switch.
  TempDir dir;
  ParseOk(Concat(RequiredArgs(dir), {"--grpc-listen=127.1.2.3:5", "--grpc-listen=[::1]:5"}));
  ParseOk(Concat(RequiredArgs(dir), {"--grpc-listen=[::]:5", "--grpc-allow-non-loopback"}));
}

TEST(GrpcFlagsTest, ResourceBoundsHaveGenerousDefaultsAndRefuseNonsense) {
  TempDir dir;
  const Settings d = ParseOk(RequiredArgs(dir));
  EXPECT_EQ(d.grpc_update_cache_bytes, 16 << 20);
  EXPECT_EQ(d.grpc_max_subscribers, 4096);
  EXPECT_EQ(d.grpc_max_streams_per_connection, 256);
  EXPECT_EQ(d.grpc_memory_quota_bytes, 256 << 20);
  const Settings s = ParseOk(Concat(
      RequiredArgs(dir), {"--grpc-update-cache-bytes=0", "--grpc-max-subscribers=2",
                          "--grpc-max-streams-per-connection=8", "--grpc-memory-quota=64MiB"}));
  EXPECT_EQ(s.grpc_update_cache_bytes, 0);
  EXPECT_EQ(s.grpc_max_subscribers, 2);
  EXPECT_EQ(s.grpc_max_streams_per_connection, 8);
  EXPECT_EQ(s.grpc_memory_quota_bytes, 64 << 20);
  for (const char* bad :
       {"--grpc-max-subscribers=0", "--grpc-max-subscribers=-1",
        "--grpc-max-streams-per-connection=3000000000", "--grpc-memory-quota=1KiB"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(Parse(Concat(RequiredArgs(dir), {bad})).ok());
  }
}

TEST(GrpcFlagsTest, ValidateRefusesAnEmptyListenerList) {
  // A Settings built by hand must still name a listener.
  TempDir dir;
  Settings s = ParseOk(RequiredArgs(dir));
  s.grpc_listen.clear();
  EXPECT_THAT(std::string(ValidateSettings(s).message()),
              HasSubstr("--grpc-listen needs at least one address"));
}

TEST(GrpcFlagsTest, FormatsAddressesAsTheFlagTakesThem) {
  EXPECT_EQ(FormatGrpcListen(Unix("/run/t.sock")), "unix:///run/t.sock");
  EXPECT_EQ(FormatGrpcListen(Tcp("127.0.0.1", 50051)), "127.0.0.1:50051");
  EXPECT_EQ(FormatGrpcListen(Tcp("::1", 0)), "[::1]:0");
}

}  // namespace
}  // namespace tether::settings

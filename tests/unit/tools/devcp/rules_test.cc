#include "tools/devcp/rules.h"

#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tether::devcp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Kong reads the query raw (no URL-decoding) and an absent key is what triggers its 400.
TEST(ParseOutletTargetTest, ReadsRawQueryValues) {
  const OutletTarget target = ParseOutletTarget(
      "/v1/outlet?node_id=abc&node_hostname=h%20x&node_version=3.10.0&node_id=second");
  EXPECT_EQ(target.path, "/v1/outlet");
  EXPECT_EQ(target.node_id, "abc");
  EXPECT_EQ(target.node_hostname, "h%20x");
  EXPECT_EQ(target.node_version, "3.10.0");
}

TEST(ParseOutletTargetTest, TellsAbsentFromEmpty) {
  const OutletTarget target = ParseOutletTarget("/v1/outlet?node_id=&x=1");
  EXPECT_EQ(target.node_id, "");
  EXPECT_FALSE(target.node_version.has_value());
  EXPECT_FALSE(ParseOutletTarget("/v1/outlet").node_id.has_value());
}

// The §2 version rule: same major, DP minor not newer; patch and suffix are free.
TEST(CheckVersionCompatibilityTest, FollowsKongsRule) {
  struct Case {
    const char* dp;
    bool compatible;
  };
  const Case cases[] = {
      {"3.10.0", true},   {"3.10.7", true},     {"3.9.2", true},   {"3.0.0", true},
      {"3.10.0.1", true}, {"3.10.0-rc1", true}, {"3.11.0", false}, {"4.0.0", false},
      {"2.8.4", false},   {"3.10", false},      {"bogus", false},  {"", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.dp);
    EXPECT_EQ(CheckVersionCompatibility(c.dp, "3.10.0").ok(), c.compatible);
  }
  EXPECT_THAT(CheckVersionCompatibility("1.0.0", "3.10.0").message(),
              HasSubstr("data plane version 1.0.0 is incompatible with control plane version "
                        "3.10.0 (3.x.y are accepted)"));
}

// Each malformed basic_info gets the message Kong logs for it (§2 step 1).
TEST(ParseBasicInfoTest, RejectsWithKongsMessages) {
  struct Case {
    const char* data;
    const char* message;
  };
  const Case cases[] = {
      {"", "failed to receive websocket basic info data"},
      {"{not json", "failed to decode websocket basic info data"},
      {R"({"type":"ping","plugins":[]})", "invalid basic info data type: ping"},
      {R"([1,2])", "invalid basic info data type: nil"},
      {R"({"type":"basic_info"})", "missing plugins in basic info data"},
      {R"({"type":"basic_info","plugins":"acl"})", "missing plugins in basic info data"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.data);
    absl::StatusOr<BasicInfo> info = ParseBasicInfo(c.data);
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.status().message(), c.message);
  }
}

TEST(ParseBasicInfoTest, CollectsPluginNamesFromArrayOrObject) {
  absl::StatusOr<BasicInfo> info = ParseBasicInfo(
      R"({"type":"basic_info","plugins":[{"name":"key-auth","version":"3.10.0"},{"name":"acl"}]})");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->plugins, ElementsAre("acl", "key-auth"));
  // Lua's cjson encodes an empty plugin list as an object.
  info = ParseBasicInfo(R"({"type":"basic_info","plugins":{}})");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->plugins.empty());
}

TEST(FindMissingPluginTest, NamesTheFirstMissing) {
  EXPECT_EQ(FindMissingPlugin({"acl", "key-auth"}, {"key-auth"}), "acl");
  EXPECT_EQ(FindMissingPlugin({"acl"}, {"acl", "cors"}), std::nullopt);
  EXPECT_EQ(FindMissingPlugin({}, {}), std::nullopt);
}

// §4.2: the length check comes before the type check.
TEST(CheckDataPlaneFrameTest, AllowsOnly32BytePings) {
  const std::string hash(32, '0');
  EXPECT_EQ(CheckDataPlaneFrame("ping", hash), std::nullopt);
  EXPECT_EQ(CheckDataPlaneFrame("text", hash),
            "invalid websocket frame received from data plane: text");
  EXPECT_EQ(CheckDataPlaneFrame("pong", hash),
            "invalid websocket frame received from data plane: pong");
  EXPECT_EQ(CheckDataPlaneFrame("ping", std::string(31, '0')),
            "received a ping frame from the data plane with an invalid hash: '" +
                std::string(31, '0') + "'");
  EXPECT_EQ(CheckDataPlaneFrame("binary", "hi"),
            "received a ping frame from the data plane with an invalid hash: 'hi'");
  EXPECT_EQ(CheckDataPlaneFrame("ping", ""),
            "received a ping frame from the data plane with an invalid hash: ''");
}

TEST(PingTimeoutReasonTest, SaysSeconds) {
  EXPECT_EQ(PingTimeoutReason(absl::Seconds(45)),
            "did not receive ping frame from data plane within 45 seconds");
}

}  // namespace
}  // namespace tether::devcp

// BuildReconfigure against the §3.5 test vector, so the hash is checked against Kong, not
// against our own code.
#include "protocol/reconfigure.h"

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace tether::protocol {
namespace {

using ::testing::ElementsAre;

// The message has Kong's shape and carries the hash of the §3.5 test vector.
TEST(BuildReconfigureTest, StampsHashAndTimestamp) {
  absl::StatusOr<Reconfigure> message = BuildReconfigure(
      R"({"routes":[],"services":[],"plugins":[]})", absl::FromUnixMillis(1718000000123));
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(message->config_hash, "81aac97a81ad03c0cf0b36663806488e");
  rapidjson::Document doc;
  doc.Parse(message->message_json.c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_STREQ(doc["type"].GetString(), "reconfigure");
  EXPECT_DOUBLE_EQ(doc["timestamp"].GetDouble(), 1718000000.123);
  EXPECT_STREQ(doc["config_hash"].GetString(), "81aac97a81ad03c0cf0b36663806488e");
  EXPECT_STREQ(doc["hashes"]["config"].GetString(), "81aac97a81ad03c0cf0b36663806488e");
  EXPECT_STREQ(doc["hashes"]["routes"].GetString(), "99914b932bd37a50b983c5e7c90ae93b");
  EXPECT_STREQ(doc["hashes"]["targets"].GetString(), "00000000000000000000000000000000");
  EXPECT_TRUE(doc["config_table"]["routes"].IsArray());
}

TEST(BuildReconfigureTest, ListsConfiguredPlugins) {
  absl::StatusOr<Reconfigure> message = BuildReconfigure(
      R"({"plugins":[{"name":"rate-limiting"},{"name":"acl"},{"name":"acl"},{"id":"x"}]})",
      absl::Now());
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_THAT(message->configured_plugins, ElementsAre("acl", "rate-limiting"));
}

TEST(BuildReconfigureTest, RejectsNonObjects) {
  EXPECT_EQ(BuildReconfigure("{", absl::Now()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildReconfigure("[]", absl::Now()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tether::protocol

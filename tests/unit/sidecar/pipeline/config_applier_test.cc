// The apply policy: what becomes current, what is refused and how it is counted, with a real
// decoder, store and board (no cache, no socket).
#include "sidecar/pipeline/config_applier.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "protocol/gzip.h"

namespace tether::pipeline {
namespace {

std::string Message(absl::string_view config_table) {
  return protocol::Gzip(
      absl::StrCat(R"({"type":"reconfigure","config_table":)", config_table, "}"));
}

const char kOneService[] =
    R"({"_format_version":"3.0","services":[{"id":"0b5d8b3e-6c8e-4c57-9b0e-1f2a3b4c5d6e","name":"s"}]})";
const char kEmpty[] = R"({"_format_version":"3.0"})";

class ConfigApplierTest : public ::testing::Test {
 protected:
  ConfigApplier Make(bool guard_empty) {
    ApplierOptions options;
    options.guard_empty_config = guard_empty;
    return ConfigApplier(options, store_, board_, nullptr);
  }
  size_t Rejections(config::RejectCause cause) {
    return board_.Get().totals.rejections[static_cast<size_t>(cause)];
  }

  config::SnapshotStore store_;
  status::StatusBoard board_;
};

TEST_F(ConfigApplierTest, PublishedConfigIsCurrentForStoreAndBoard) {
  ConfigApplier applier = Make(false);
  const std::optional<std::string> hash = applier.Apply(Frame{Message(kOneService), absl::Now()});
  ASSERT_TRUE(hash.has_value());
  ASSERT_NE(store_.Current(), nullptr);
  EXPECT_EQ(store_.Current()->config_hash, *hash);
  const status::StatusView view = board_.Get();
  ASSERT_NE(view.config.current, nullptr);
  EXPECT_EQ(view.config.current->config_hash, *hash);
  EXPECT_EQ(view.config.applies, 1u);
  // The same config again is confirmed, not applied again; Kong still pings with its hash.
  EXPECT_EQ(applier.Apply(Frame{Message(kOneService), absl::Now()}), hash);
  EXPECT_EQ(board_.Get().config.same_hash, 1u);
  EXPECT_EQ(board_.Get().config.applies, 1u);
}

TEST_F(ConfigApplierTest, RejectionsAreCountedByTypedCause) {
  ConfigApplier applier = Make(false);
  EXPECT_FALSE(applier.Apply(Frame{"not gzip", absl::Now()}).has_value());
  EXPECT_FALSE(applier.Apply(Frame{protocol::Gzip("{nope"), absl::Now()}).has_value());
  EXPECT_FALSE(
      applier.Apply(Frame{protocol::Gzip(R"({"type":"reconfigure"})"), absl::Now()}).has_value());
  applier.Refused(absl::ResourceExhaustedError("over --cluster-max-payload"));
  EXPECT_EQ(Rejections(config::RejectCause::kGzip), 1u);
  EXPECT_EQ(Rejections(config::RejectCause::kJson), 1u);
  EXPECT_EQ(Rejections(config::RejectCause::kShape), 1u);
  EXPECT_EQ(Rejections(config::RejectCause::kTooLarge), 1u);
  EXPECT_EQ(board_.Get().config.rejections, 4u);
  EXPECT_EQ(store_.Current(), nullptr);
}

TEST_F(ConfigApplierTest, EmptyConfigGuardKeepsTheCurrentOne) {
  ConfigApplier applier = Make(true);
  const std::optional<std::string> hash = applier.Apply(Frame{Message(kOneService), absl::Now()});
  ASSERT_TRUE(hash.has_value());
  EXPECT_FALSE(applier.Apply(Frame{Message(kEmpty), absl::Now()}).has_value());
  EXPECT_EQ(store_.Current()->config_hash, *hash);
  EXPECT_EQ(Rejections(config::RejectCause::kEmptyConfig), 1u);
  const status::StatusView view = board_.Get();
  ASSERT_TRUE(view.config.last_rejection.has_value());
  EXPECT_EQ(view.config.last_rejection->cause, config::RejectCause::kEmptyConfig);
  EXPECT_FALSE(view.config.last_rejection->config_hash.empty());
}

TEST_F(ConfigApplierTest, EmptyConfigAcceptedWithoutTheGuard) {
  ConfigApplier applier = Make(false);
  ASSERT_TRUE(applier.Apply(Frame{Message(kOneService), absl::Now()}).has_value());
  EXPECT_TRUE(applier.Apply(Frame{Message(kEmpty), absl::Now()}).has_value());
  EXPECT_EQ(Rejections(config::RejectCause::kEmptyConfig), 0u);
}

}  // namespace
}  // namespace tether::pipeline

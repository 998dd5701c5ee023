// Exporter with a real SnapshotStore, StatusBoard and /bin/sh hooks: one run at a time,
// coalescing, the final config's hash last, NACKs in status, and never blocking a publish.
#include "sidecar/export/exporter.h"

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/export/config_file.h"
#include "tests/testing/testing.h"
#include "tests/unit/sidecar/api/snapshots.h"
#include "tests/unit/sidecar/export/hook_script.h"

namespace tether::exporter {
namespace {

using ::testing::HasSubstr;
using testing::HookRecord;
using testing::WriteScript;

constexpr absl::Duration kWait = absl::Seconds(30);

config::SnapshotPtr Config(int n) {
  return api::testing::Decode(absl::StrCat(R"({"_format_version":"3.0","services":[)",
                                           api::testing::Row("s1", absl::StrCat("svc-", n)), "]}"));
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class ExporterTest : public ::testing::Test {
 protected:
  // Waits until the hook's record satisfies `pred`.
  status::SubscriberRecord AwaitHook(
      const std::function<bool(const status::SubscriberRecord&)>& pred) {
    auto [view, held] = board_.WaitFor(
        [&](const status::StatusView& v) {
          return HookRecord(v) != nullptr && pred(*HookRecord(v));
        },
        kWait);
    EXPECT_TRUE(held);
    return HookRecord(view) != nullptr ? *HookRecord(view) : status::SubscriberRecord{};
  }

  ::tether::testing::TempDir dir_;
  config::SnapshotStore store_;
  status::StatusBoard board_;
};

TEST_F(ExporterTest, RunsOneAtATimeCoalescesAndEndsOnTheLastConfig) {
  // A second run while one is under way would find the lock taken.
  const std::string script = WriteScript(dir_.path(), "hook", R"(
mkdir "$1/lock" 2>/dev/null || echo overlap >> "$1/overlaps"
echo "$TETHER_CONFIG_HASH" >> "$1/runs"
sleep 0.05
rmdir "$1/lock")");
  const std::string path = dir_.path() + "/kong.json";
  Exporter exporter(ExportOptions{path, {}, HookCommand{{script, dir_.path()}, kWait, ""}}, store_,
                    board_);
  constexpr int kPushes = 40;
  config::SnapshotPtr last;
  for (int i = 0; i < kPushes; ++i) store_.Publish(last = Config(i));
  AwaitHook([&](const status::SubscriberRecord& s) { return s.acked_hash == last->config_hash; });

  const std::vector<std::string> runs = Lines(::tether::testing::ReadFile(dir_.path() + "/runs"));
  EXPECT_LT(runs.size(), static_cast<size_t>(kPushes));
  ASSERT_FALSE(runs.empty());
  EXPECT_EQ(runs.back(), last->config_hash);
  EXPECT_FALSE(std::ifstream(dir_.path() + "/overlaps").good()) << "two runs overlapped";
  EXPECT_EQ(::tether::testing::ReadFile(path), *RenderConfig(*last, {}, FileFormat::kJson));
  const status::StatusView view = board_.Get();
  EXPECT_EQ(view.totals.hook_runs[static_cast<size_t>(status::HookOutcome::kOk)], runs.size());
  EXPECT_GE(view.totals.config_file_writes, runs.size());
}

TEST_F(ExporterTest, ExportsTheConfigHeldAtStart) {
  const std::string path = dir_.path() + "/kong.yaml";
  store_.Publish(Config(1));
  Exporter exporter(
      ExportOptions{path, {}, HookCommand{{WriteScript(dir_.path(), "hook", "exit 0")}, kWait, ""}},
      store_, board_);
  AwaitHook(
      [&](const status::SubscriberRecord& s) { return s.acked_hash == store_.CurrentHash(); });
  EXPECT_EQ(::tether::testing::ReadFile(path),
            *RenderConfig(*store_.Current(), {}, FileFormat::kYaml));
}

TEST_F(ExporterTest, AFailingHookIsANackWithItsStderr) {
  const std::string script =
      WriteScript(dir_.path(), "hook", "echo 'upstream not found' >&2; exit 2");
  Exporter exporter(ExportOptions{"", {}, HookCommand{{script}, kWait, ""}}, store_, board_);
  for (int i = 0; i < 2; ++i) {
    config::SnapshotPtr config = Config(i);
    store_.Publish(config);
    const status::SubscriberRecord hook = AwaitHook(
        [&](const status::SubscriberRecord& s) { return s.nacked_hash == config->config_hash; });
    EXPECT_THAT(hook.nack_error, HasSubstr("exited with status 2"));
    EXPECT_THAT(hook.nack_error, HasSubstr("upstream not found"));
    EXPECT_EQ(hook.acked_hash, "");
  }
  EXPECT_GE(board_.Get().totals.hook_runs[static_cast<size_t>(status::HookOutcome::kFailed)], 2u);
}

TEST_F(ExporterTest, AHungHookDelaysNoPublishAndStopKillsIt) {
  const std::string started = dir_.path() + "/started";
  const std::string script = WriteScript(dir_.path(), "hook", "touch \"$1\"; exec sleep 300");
  auto exporter = std::make_unique<Exporter>(
      ExportOptions{"", {}, HookCommand{{script, started}, absl::Minutes(10), ""}}, store_, board_);
  store_.Publish(Config(0));
  ASSERT_TRUE(::tether::testing::AwaitUntil([&] { return std::ifstream(started).good(); }, kWait));
  const absl::Time start = absl::Now();
  for (int i = 1; i < 20; ++i) store_.Publish(Config(i));
  exporter.reset();
  EXPECT_LT(absl::Now() - start, kWait);
  EXPECT_EQ(HookRecord(board_.Get()), nullptr);  // left status with the exporter
}

TEST_F(ExporterTest, AnUnwritableFileIsANackWithoutARun) {
  const std::string runs = dir_.path() + "/runs";
  Exporter exporter(
      ExportOptions{
          dir_.path() + "/missing/kong.json",
          {},
          HookCommand{{WriteScript(dir_.path(), "hook", "touch \"$1\""), runs}, kWait, ""}},
      store_, board_);
  config::SnapshotPtr config = Config(0);
  store_.Publish(config);
  const status::SubscriberRecord hook = AwaitHook(
      [&](const status::SubscriberRecord& s) { return s.nacked_hash == config->config_hash; });
  EXPECT_THAT(hook.nack_error, HasSubstr("config file not written"));
  EXPECT_FALSE(std::ifstream(runs).good());
  EXPECT_EQ(board_.Get().totals.config_file_write_failures, 1u);
}

}  // namespace
}  // namespace tether::exporter

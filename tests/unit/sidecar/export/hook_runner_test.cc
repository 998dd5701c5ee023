// HookRunner with real /bin/sh scripts: environment, exit status and signals, stderr in the
// error, the timeout killing the whole process group, and Cancel.
#include "sidecar/export/hook_runner.h"

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/testing.h"
#include "tests/unit/sidecar/export/hook_script.h"

namespace tether::exporter {
namespace {

using ::testing::HasSubstr;
using testing::WriteScript;

constexpr absl::Duration kWait = absl::Seconds(30);

// Gone, or a zombie nobody reaps (a container's pid 1 may not).
bool ProcessGone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(stat, line);
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && line.substr(paren + 2, 1) == "Z";
}

HookRunner Runner(std::vector<std::string> argv, absl::Duration timeout = kWait,
                  std::string config_path = "") {
  return HookRunner(HookCommand{std::move(argv), timeout, std::move(config_path)});
}

TEST(HookRunnerTest, RunsWithTheConfigHashAndPath) {
  ::tether::testing::TempDir dir;
  const std::string out = dir.path() + "/env";
  const std::string script = WriteScript(
      dir.path(), "hook", "echo \"$TETHER_CONFIG_HASH $TETHER_CONFIG_PATH $1\" > \"$2\"");
  HookRunner runner = Runner({script, "arg one", out}, kWait, "/run/kong.yaml");
  std::optional<HookResult> result = runner.Run("abc123");
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, status::HookOutcome::kOk) << result->error;
  EXPECT_EQ(result->error, "");
  EXPECT_EQ(::tether::testing::ReadFile(out), "abc123 /run/kong.yaml arg one\n");
}

TEST(HookRunnerTest, ANonZeroExitFailsWithTheLastStderrLines) {
  ::tether::testing::TempDir dir;
  HookRunner runner = Runner({WriteScript(dir.path(), "hook",
                                          "echo starting; echo first >&2; echo 'nginx: [emerg] "
                                          "bad directive' >&2; exit 3")});
  std::optional<HookResult> result = runner.Run("h");
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, status::HookOutcome::kFailed);
  EXPECT_THAT(result->error, HasSubstr("exited with status 3"));
  EXPECT_THAT(result->error, HasSubstr("first\nnginx: [emerg] bad directive"));
  EXPECT_THAT(result->error, ::testing::Not(HasSubstr("starting")));  // stdout is only logged
}

TEST(HookRunnerTest, ASignalIsNamed) {
  ::tether::testing::TempDir dir;
  HookRunner runner = Runner({WriteScript(dir.path(), "hook", "kill -TERM $$")});
  std::optional<HookResult> result = runner.Run("h");
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, status::HookOutcome::kFailed);
  EXPECT_THAT(result->error, HasSubstr("killed by signal 15"));
}

TEST(HookRunnerTest, AMissingProgramFails) {
  HookRunner runner = Runner({"/nonexistent/reload-proxy"});
  std::optional<HookResult> result = runner.Run("h");
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, status::HookOutcome::kFailed);
  EXPECT_THAT(result->error, HasSubstr("cannot run /nonexistent/reload-proxy"));
}

TEST(HookRunnerTest, TheErrorIsBounded) {
  ::tether::testing::TempDir dir;
  HookRunner runner = Runner({WriteScript(
      dir.path(), "hook",
      "i=0; while [ $i -lt 500 ]; do printf '%0300d\\n' $i >&2; i=$((i+1)); done; exit 1")});
  std::optional<HookResult> result = runner.Run("h");
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->outcome, status::HookOutcome::kFailed);
  EXPECT_LE(result->error.size(), HookResult::kMaxErrorBytes);
  EXPECT_THAT(result->error, HasSubstr("499"));  // the end is kept
}

TEST(HookRunnerTest, ATimeoutKillsTheWholeProcessGroup) {
  ::tether::testing::TempDir dir;
  const std::string pid_file = dir.path() + "/child.pid";
  // The child sleeps in the background; the script waits for it (and would for 300s).
  HookRunner runner = Runner(
      {WriteScript(dir.path(), "hook",
                   "sleep 300 & echo $! > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"; echo hung >&2; wait"),
       pid_file},
      absl::Seconds(1));
  const absl::Time start = absl::Now();
  std::optional<HookResult> result = runner.Run("h");
  ASSERT_TRUE(result.has_value());
  EXPECT_LT(absl::Now() - start, kWait);
  EXPECT_EQ(result->outcome, status::HookOutcome::kTimeout);
  EXPECT_THAT(result->error, HasSubstr("timed out after 1s"));
  EXPECT_THAT(result->error, HasSubstr("hung"));
  int child = 0;
  ASSERT_TRUE(
      absl::SimpleAtoi(absl::StripAsciiWhitespace(::tether::testing::ReadFile(pid_file)), &child));
  EXPECT_TRUE(::tether::testing::AwaitUntil([child] { return ProcessGone(child); }, kWait))
      << "the hook's child " << child << " survived";
}

TEST(HookRunnerTest, CancelEndsARunAndLaterOnes) {
  ::tether::testing::TempDir dir;
  const std::string started = dir.path() + "/started";
  HookRunner runner =
      Runner({WriteScript(dir.path(), "hook", "touch \"$1\"; exec sleep 300"), started});
  std::optional<HookResult> result = HookResult{};
  std::thread run([&] { result = runner.Run("h"); });
  ASSERT_TRUE(::tether::testing::AwaitUntil([&] { return std::ifstream(started).good(); }, kWait));
  runner.Cancel();
  run.join();
  EXPECT_FALSE(result.has_value());
  EXPECT_FALSE(runner.Run("h2").has_value());
}

}  // namespace
}  // namespace tether::exporter

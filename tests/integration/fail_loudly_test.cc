// Fail loudly: when the CP session ends by itself (a bug, made here through a test hook), tether
// does not limp on. Readiness turns false at once (/readyz over real HTTP says which part
// failed), the usual drain runs, and app::Run - what main returns - gives exit code 1, so
// Kubernetes restarts the container.
#include <string>

#include "gmock/gmock.h"
#include "sidecar/app/run.h"
#include "tests/testing/app_fixture.h"
#include "tests/testing/http_client.h"
#include "tests/testing/log_capture.h"

namespace tether {
namespace {

using ::testing::HasSubstr;
using testing::kWait;

class FailLoudlyTest : public testing::AppTest {};

TEST_F(FailLoudlyTest, SessionEndingUnexpectedlyDrainsAndExitsNonZero) {
  StartCp();
  absl::StatusOr<std::string> hash = cp_->SetConfig(R"({"_format_version":"3.0"})");
  ASSERT_TRUE(hash.ok()) << hash.status();
  settings_ = testing::TestSettings(cp_->port(), data_dir_.path(), {"--drain-time=100ms"});
  testing::LogCapture logs;

  Notification stop_requested;
  app::App* running = nullptr;  // Run's App, alive while Run runs
  testing::HttpResponse readyz_meanwhile;
  status::Readiness readiness_meanwhile;
  app::RunHooks hooks;
  hooks.request_stop = [&] { stop_requested.Notify(); };
  hooks.on_started = [&](app::App& app) {
    running = &app;
    EXPECT_TRUE(app.status()
                    .WaitFor(
                        [&](const status::StatusView& v) {
                          return v.config.current != nullptr &&
                                 v.config.current->config_hash == *hash;
                        },
                        kWait)
                    .second);
    app.session_for_test().EndUnexpectedlyForTest();
  };
  // On Run's thread, before the drain: what a probe sees between the failure and the exit.
  hooks.wait_for_stop = [&]() -> std::string {
    EXPECT_TRUE(stop_requested.WaitForNotificationWithTimeout(kWait));
    readiness_meanwhile = running->status().GetReadiness();
    absl::StatusOr<testing::HttpResponse> r =
        testing::HttpRequest(running->ops().address(), "GET", "/readyz");
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) readyz_meanwhile = *std::move(r);
    return "test";
  };
  const int exit_code = app::Run(settings_, hooks);

  EXPECT_EQ(exit_code, 1);
  EXPECT_FALSE(readiness_meanwhile.ready);
  EXPECT_THAT(readiness_meanwhile.reason, HasSubstr("control plane session failed"));
  EXPECT_EQ(readyz_meanwhile.status, 503);
  EXPECT_THAT(readyz_meanwhile.body, HasSubstr("control plane session failed"));
  // In order: the failure, the drain, the exit code.
  EXPECT_TRUE(logs.WaitForLines("control plane session ended unexpectedly", 1, kWait));
  EXPECT_TRUE(logs.WaitForLines("draining", 1, kWait));
  EXPECT_TRUE(logs.WaitForLines("exit_code", 1, kWait));
}

}  // namespace
}  // namespace tether

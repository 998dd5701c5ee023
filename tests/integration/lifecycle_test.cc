// The built binaries as Kubernetes runs them. tether on SIGTERM: /readyz 503 "draining" and gRPC
// health NOT_SERVING at once, subscribers still served (a config pushed during the drain
// reaches them), then streams end UNAVAILABLE, the CP sees the close, and the process exits 0
// in time. POST /shutdown takes the same path. `tetherctl wait --ready` exits 0 once tether is
// ready and 1 when its timeout passes first.
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/lib/client.h"
#include "gmock/gmock.h"
#include "tests/integration/api_harness.h"
#include "tests/testing/child_process.h"
#include "tests/testing/http_client.h"

namespace tether::api_test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TetherBinary() { return absl::StrCat(TETHER_BINARY_DIR, "/sidecar/tether"); }
std::string TetherctlBinary() { return absl::StrCat(TETHER_BINARY_DIR, "/client/cli/tetherctl"); }

// Asks `path` until it answers `status` (a refused connection is another try); fails the test
// after kWait.
testing::HttpResponse AwaitAnswer(const std::string& address, absl::string_view method,
                                  absl::string_view path, int status,
                                  const testing::HttpOptions& options = {}) {
  testing::HttpResponse last;
  const bool answered = testing::AwaitUntil(
      [&] {
        absl::StatusOr<testing::HttpResponse> r =
            testing::HttpRequest(address, method, path, options);
        if (!r.ok()) return false;
        last = *std::move(r);
        return last.status == status;
      },
      kWait);
  if (answered) return last;
  ADD_FAILURE() << path << " never answered " << status << "; last: " << last.status << " "
                << last.body;
  return last;
}

class LifecycleTest : public ApiTest {
 protected:
  // tether against the in-process CP, its API on a unix socket in the data dir.
  std::unique_ptr<testing::ChildProcess> StartTether(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {
        TetherBinary(),
        absl::StrCat("--cluster-control-plane=127.0.0.1:", cp_->port()),
        "--cluster-cert=" + testing::Fixture("certs/kong_clustering.crt"),
        "--cluster-cert-key=" + testing::Fixture("certs/kong_clustering.key"),
        "--data-dir=" + data_dir_.path(),
        "--grpc-listen=unix://" + socket_path_,
        "--ops-listen=127.0.0.1:0",
        "--node-hostname=dp-test.local",
        "--node-version=3.10.0",
        "--reconnect-backoff-min=10ms",
        "--reconnect-backoff-max=50ms",
    };
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = testing::ChildProcess::Start(argv);
    EXPECT_TRUE(child.ok()) << child.status();
    return child.ok() ? *std::move(child) : nullptr;
  }

  // The ops address the child logged ("ops listening ... 127.0.0.1:PORT"), in text or JSON.
  static std::string OpsAddress(const testing::ChildProcess& child) {
    const std::optional<std::string> line = child.AwaitLine("ops listening", kWait);
    EXPECT_TRUE(line.has_value()) << child.Output();
    if (!line.has_value()) return "";
    const size_t at = line->find("127.0.0.1:");
    const size_t end = line->find_first_not_of("0123456789", at + 10);
    return line->substr(at, end - at);
  }
};

TEST_F(LifecycleTest, SigtermDrainsSubscribersThenExitsZero) {
  constexpr absl::Duration kDrain = absl::Seconds(8);
  ConfigModel model;
  model.Put("services", Id(1), "a");
  absl::StatusOr<std::string> first = cp_->SetConfig(model.ToJson());
  ASSERT_TRUE(first.ok());
  std::unique_ptr<testing::ChildProcess> tether =
      StartTether({absl::StrCat("--drain-time=", absl::FormatDuration(kDrain))});
  ASSERT_TRUE(tether);
  const std::string ops = OpsAddress(*tether);
  AwaitAnswer(ops, "GET", "/readyz", 200);

  WatchStream watch(NewChannel("unix://" + socket_path_));
  ASSERT_TRUE(watch.Subscribe("proxy"));
  std::optional<Update> update = watch.Next();
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->hash(), *first);

  tether->Signal(SIGTERM);
  const testing::HttpResponse draining = AwaitAnswer(ops, "GET", "/readyz", 503);
  EXPECT_THAT(draining.body, StartsWith("draining"));
  absl::StatusOr<std::unique_ptr<client::Client>> grpc =
      client::Client::Create("unix://" + socket_path_);
  ASSERT_TRUE(grpc.ok());
  absl::StatusOr<client::HealthStatus> health = (*grpc)->CheckHealth("", kWait);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, client::HealthStatus::kNotServing);

  // Still served while draining: a new config reaches the subscriber.
  model.Put("routes", Id(2), "b");
  absl::StatusOr<std::string> second = cp_->SetConfig(model.ToJson());
  ASSERT_TRUE(second.ok());
  update = watch.Next();
  ASSERT_TRUE(update.has_value()) << "the stream ended before the drain did";
  EXPECT_EQ(update->hash(), *second);

  // The drain, then at most main's stop deadline (10 s), with room for a slow machine.
  EXPECT_EQ(tether->AwaitExit(kDrain + absl::Seconds(20)), 0) << tether->Output();
  EXPECT_FALSE(watch.Next().has_value());
  const grpc::Status ended = watch.Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE) << ended.error_message();
  // The CP saw the data plane close the connection (its empty close frame).
  EXPECT_TRUE(cp_->WaitForEvent(
      [](const devcp::Event& e) {
        return e.kind == devcp::EventKind::kClosed && e.closed_by == devcp::Closer::kDataPlane;
      },
      kWait));
  EXPECT_THAT(tether->Output(), HasSubstr("draining"));
}

// POST /shutdown from loopback stops the binary like SIGTERM: exit 0.
TEST_F(LifecycleTest, ShutdownEndpointStopsTheProcess) {
  std::unique_ptr<testing::ChildProcess> tether = StartTether({"--drain-time=0s"});
  ASSERT_TRUE(tether);
  const std::string ops = OpsAddress(*tether);
  testing::HttpOptions deliberate;
  deliberate.headers = {"X-Tether-Shutdown: 1"};
  AwaitAnswer(ops, "POST", "/shutdown", 202, deliberate);
  EXPECT_EQ(tether->AwaitExit(kWait), 0) << tether->Output();
  EXPECT_THAT(tether->Output(), HasSubstr("shutdown requested"));
}

// Started before tether has a config, `tetherctl wait --ready` exits 0 once one arrives.
TEST_F(LifecycleTest, TetherctlWaitExitsZeroOnceReady) {
  StartApp();
  ASSERT_FALSE(app_->status().GetReadiness().ready);
  auto ctl = testing::ChildProcess::Start(
      {TetherctlBinary(), "--addr=" + unix_target_, "wait", "--ready", "--timeout=60s"});
  ASSERT_TRUE(ctl.ok()) << ctl.status();
  ConfigModel model;
  model.Put("services", Id(1), "a");
  Push(model);
  EXPECT_EQ((*ctl)->AwaitExit(kWait), 0) << (*ctl)->Output();
  EXPECT_THAT((*ctl)->Output(), HasSubstr("ready"));
}

// When the timeout passes first, `tetherctl wait --ready` exits 1 saying why: tether not ready,
// or not reachable at all.
TEST_F(LifecycleTest, TetherctlWaitFailsAfterItsTimeout) {
  StartApp();
  auto not_ready = testing::ChildProcess::Start(
      {TetherctlBinary(), "--addr=" + unix_target_, "wait", "--ready", "--timeout=1s"});
  ASSERT_TRUE(not_ready.ok()) << not_ready.status();
  EXPECT_EQ((*not_ready)->AwaitExit(kWait), 1);
  EXPECT_THAT((*not_ready)->Output(), HasSubstr("not ready after 1s (last: NOT_SERVING)"));

  auto unreachable = testing::ChildProcess::Start(
      {TetherctlBinary(), "--addr=unix://" + data_dir_.path() + "/missing.sock", "wait", "--ready",
       "--timeout=500ms"});
  ASSERT_TRUE(unreachable.ok()) << unreachable.status();
  EXPECT_EQ((*unreachable)->AwaitExit(kWait), 1);
  EXPECT_THAT((*unreachable)->Output(), HasSubstr("not ready after 500ms"));
}

// `wait` needs its condition: a usage error (exit 2) without --ready.
TEST_F(LifecycleTest, TetherctlWaitNeedsACondition) {
  auto ctl = testing::ChildProcess::Start({TetherctlBinary(), "wait"});
  ASSERT_TRUE(ctl.ok()) << ctl.status();
  EXPECT_EQ((*ctl)->AwaitExit(kWait), 2);
  EXPECT_THAT((*ctl)->Output(), HasSubstr("wait needs a condition: --ready"));
}

}  // namespace
}  // namespace tether::api_test

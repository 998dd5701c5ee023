// The ops listener of a real App fed by an in-process tether-devcp, over real HTTP on loopback:
// probes and metrics move with the state (connect, apply, reject, disconnect), POST /shutdown
// reaches the App's callback, and /livez fails while the CP loop is blocked on purpose. Each
// scrape follows a status wait, and status and metrics are read from the same board.
#include <map>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/common/mutex.h"
#include "tests/testing/app_fixture.h"
#include "tests/testing/http_client.h"
#include "tests/testing/prometheus_text.h"

namespace tether {
namespace {

using ::testing::Ge;
using ::testing::HasSubstr;
using testing::kWait;
using ::testing::StartsWith;

constexpr absl::string_view kConfig = R"({"_format_version":"3.0",
  "services":[{"id":"00000000-0000-4000-8000-000000000001","name":"s1","host":"a.example"}],
  "routes":[{"id":"00000000-0000-4000-8000-000000000002","name":"r1","paths":["/a"]},
            {"id":"00000000-0000-4000-8000-000000000003","name":"r2","paths":["/b"]}]})";

class OpsTest : public testing::AppTest {
 protected:
  testing::HttpResponse Send(absl::string_view method, absl::string_view path) {
    absl::StatusOr<testing::HttpResponse> r = testing::HttpRequest(Ops(), method, path);
    EXPECT_TRUE(r.ok()) << path << ": " << r.status();
    return r.ok() ? *std::move(r) : testing::HttpResponse{};
  }
  testing::HttpResponse Get(absl::string_view path) { return Send("GET", path); }

  std::map<std::string, double> Scrape() {
    const testing::HttpResponse r = Get("/metrics");
    EXPECT_EQ(r.status, 200);
    return testing::ParsePrometheusText(r.body);
  }

  // Asks `path` until it answers `status`; fails the test after kWait.
  testing::HttpResponse AwaitAnswer(absl::string_view path, int status) {
    testing::HttpResponse last;
    testing::AwaitUntil(
        [&] {
          last = Get(path);
          return last.status == status;
        },
        kWait);
    EXPECT_EQ(last.status, status) << path << ": " << last.body;
    return last;
  }

  std::string Ops() { return app_->ops().address(); }
};

// Connected goes 0 -> 1 as the CP lets tether in; a push moves applies, entity counts, sizes and
// the decode histogram; bad frames are counted by cause; when the CP goes away, connected drops
// to 0 and the failure is counted as closed, while the last config stays served.
TEST_F(OpsTest, MetricsFollowConnectApplyRejectAndDisconnect) {
  StartCp();
  cp_->Freeze();  // TLS stalls: tether is connecting, not connected
  StartApp({"--ping-interval=1h", "--ping-timeout=2h"});
  AwaitStatus([](const status::StatusView& v) {
    return v.connection.state == status::ConnectionState::kConnecting;
  });
  std::map<std::string, double> m = Scrape();
  EXPECT_EQ(m.at("tether_control_plane_connected"), 0);
  EXPECT_THAT(m.at("tether_control_plane_connection_attempts_total"), Ge(1));
  EXPECT_EQ(m.at("tether_ready"), 0);

  cp_->Unfreeze();
  AwaitStatus([](const status::StatusView& v) {
    return v.connection.state == status::ConnectionState::kConnected;
  });
  m = Scrape();
  EXPECT_EQ(m.at("tether_control_plane_connected"), 1);
  EXPECT_EQ(m.at("tether_config_applies_total"), 0);

  absl::StatusOr<std::string> hash = cp_->SetConfig(kConfig);
  ASSERT_TRUE(hash.ok()) << hash.status();
  AwaitAppliedHash(*hash);
  m = Scrape();
  EXPECT_EQ(m.at("tether_ready"), 1);
  EXPECT_EQ(m.at("tether_config_applies_total"), 1);
  EXPECT_EQ(m.at(R"(tether_config_entities{type="services"})"), 1);
  EXPECT_EQ(m.at(R"(tether_config_entities{type="routes"})"), 2);
  EXPECT_GT(m.at("tether_config_compressed_bytes"), 0);
  EXPECT_GT(m.at("tether_config_decoded_bytes"), 0);
  EXPECT_THAT(m.at("tether_config_age_seconds"), Ge(0));
  EXPECT_EQ(m.at("tether_config_decode_duration_seconds_count"), 1);
  EXPECT_GT(m.at("tether_cluster_cert_expiry_timestamp_seconds"), 0);

  cp_->PushRawFrame("not gzip at all");
  AwaitStatus([](const status::StatusView& v) { return v.config.rejections == 1; });
  cp_->PushMessage(R"({"type":"reconfigure"})");
  AwaitStatus([](const status::StatusView& v) { return v.config.rejections == 2; });
  m = Scrape();
  EXPECT_EQ(m.at(R"(tether_config_rejections_total{reason="gzip"})"), 1);
  EXPECT_EQ(m.at(R"(tether_config_rejections_total{reason="shape"})"), 1);
  EXPECT_EQ(m.at("tether_config_applies_total"), 1);

  cp_->Stop();
  AwaitStatus([](const status::StatusView& v) {
    return v.connection.state != status::ConnectionState::kConnected &&
           status::ConnectionFailuresWithReason(v.totals, "closed") >= 1;
  });
  m = Scrape();
  EXPECT_EQ(m.at("tether_control_plane_connected"), 0);
  EXPECT_THAT(m.at(R"(tether_control_plane_connection_failures_total{reason="closed"})"), Ge(1));
  EXPECT_EQ(m.at("tether_ready"), 1) << "the last good config is still served";
}

// /readyz is 503 with the reason until the first config (connecting, then waiting for a
// config), then 200.
TEST_F(OpsTest, ReadyzTurnsReadyOnTheFirstConfig) {
  StartCp();
  StartApp();
  AwaitStatus([](const status::StatusView& v) {
    return v.connection.state == status::ConnectionState::kConnected;
  });
  testing::HttpResponse r = Get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, StartsWith("no config yet"));
  EXPECT_THAT(r.body, HasSubstr("waiting for the first config"));
  absl::StatusOr<std::string> hash = cp_->SetConfig(kConfig);
  ASSERT_TRUE(hash.ok());
  AwaitAppliedHash(*hash);
  r = Get("/readyz");
  EXPECT_EQ(r.status, 200);
}

// POST /shutdown from loopback calls the callback given to App::Create (main's SIGTERM path).
TEST_F(OpsTest, ShutdownFromLoopbackReachesTheAppCallback) {
  StartCp();
  Notification requested;
  settings_ = testing::TestSettings(cp_->port(), data_dir_.path());
  auto app = app::App::Create(
      settings_, app::AppCallbacks{.on_shutdown_request = [&requested] { requested.Notify(); },
                                   .on_part_failed = nullptr});
  ASSERT_TRUE(app.ok()) << app.status();
  app_ = *std::move(app);
  app_->Start();
  testing::HttpOptions deliberate;
  deliberate.headers = {"X-Tether-Shutdown: 1"};
  absl::StatusOr<testing::HttpResponse> r =
      testing::HttpRequest(Ops(), "POST", "/shutdown", deliberate);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 202);
  EXPECT_TRUE(requested.WaitForNotificationWithTimeout(kWait));
}

// /livez is 200 while the CP loop and the decoder answer, 503 naming the CP loop while a task
// blocks it, and 200 again once it is released.
TEST_F(OpsTest, LivezFailsWhileTheControlPlaneLoopIsBlocked) {
  StartCp();
  StartApp();
  testing::HttpResponse r = Get("/livez");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok: control-plane-io, config-decoder\n");

  Notification blocked;
  Notification release;
  absl::Cleanup unblock = [&release] {
    if (!release.HasBeenNotified()) release.Notify();
  };
  app_->PostToIoForTest([&] {
    blocked.Notify();
    release.WaitForNotification();
  });
  ASSERT_TRUE(blocked.WaitForNotificationWithTimeout(kWait));
  r = Get("/livez");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, StartsWith("stuck: control-plane-io (no heartbeat for "));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("config-decoder")));
  release.Notify();
  AwaitAnswer("/livez", 200);
}

}  // namespace
}  // namespace tether

// A bare cp::Session (no App) on its own io thread, for tests of the session alone: options with
// Kong's fixture cluster certificate and a node identity, a recorder of the latest ConnectionInfo
// to await a state on, and a tether-devcp to connect to when the test wants one.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "gtest/gtest.h"
#include "sidecar/common/asio.h"
#include "sidecar/common/mutex.h"
#include "sidecar/cp/basic_info.h"
#include "sidecar/cp/session.h"
#include "tests/testing/app_fixture.h"
#include "tests/testing/testing.h"
#include "tools/devcp/control_plane.h"

namespace tether::testing {

// The session's latest ConnectionInfo, for waiting on a state.
class ConnectionRecorder {
 public:
  void Set(const status::ConnectionInfo& info) {
    MutexLock lock(&mu_);
    info_ = info;
  }
  status::ConnectionInfo Latest() {
    MutexLock lock(&mu_);
    return info_;
  }
  // Waits until `pred` holds; fails the test if it does not within kWait.
  status::ConnectionInfo Await(const std::function<bool(const status::ConnectionInfo&)>& pred) {
    MutexLock lock(&mu_);
    const bool held =
        mu_.AwaitWithTimeout([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return pred(info_); }, kWait);
    EXPECT_TRUE(held) << "connection did not reach the expected state; now "
                      << status::ConnectionStateName(info_.state) << " after " << info_.attempts
                      << " attempt(s), last error: " << info_.last_error;
    return info_;
  }

 private:
  Mutex mu_;
  status::ConnectionInfo info_ ABSL_GUARDED_BY(mu_);
};

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    io_thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (session_) {
      EXPECT_TRUE(session_->Stop(kWait));
      session_.reset();
    }
    guard_.reset();
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    if (cp_) cp_->Stop();
  }

  // tether-devcp on 127.0.0.1 with the fixture certificate (shared mode).
  static devcp::Options CpOptions() {
    devcp::Options o;
    o.cert_path = Fixture("certs/kong_clustering.crt");
    o.key_path = Fixture("certs/kong_clustering.key");
    return o;
  }
  // Starts devcp with `options` (CpOptions() by default) as cp_.
  void StartCpWith(const devcp::Options& options) {
    auto cp = devcp::ControlPlane::Create(options);
    ASSERT_TRUE(cp.ok()) << cp.status();
    cp_ = *std::move(cp);
  }
  void StartCp() { StartCpWith(CpOptions()); }

  // To `host`:`port` with the fixture certificate (shared mode), a 10 s connect timeout and a
  // 10-50 ms backoff.
  static cp::SessionOptions Options(std::string host, uint16_t port) {
    cp::SessionOptions o;
    o.host = std::move(host);
    o.port = port;
    o.tls.cert_path = Fixture("certs/kong_clustering.crt");
    o.tls.key_path = Fixture("certs/kong_clustering.key");
    o.node_id = "6f1d2a3b-0c4d-4e5f-8a9b-0c1d2e3f4a5b";
    o.node_hostname = "dp-test.local";
    o.node_version = "3.10.0";
    o.basic_info = [](absl::string_view) { return cp::BuildBasicInfo({}, {}); };
    o.connect_timeout = absl::Seconds(10);
    o.backoff.min = absl::Milliseconds(10);
    o.backoff.max = absl::Milliseconds(50);
    return o;
  }

  // Creates and starts the session; its changes go to recorder_, its frames to `on_frame`.
  void StartSession(cp::SessionOptions o,
                    std::function<void(std::string, absl::Time)> on_frame = {}) {
    cp::SessionCallbacks callbacks;
    callbacks.on_frame = on_frame ? std::move(on_frame) : [](std::string, absl::Time) {};
    callbacks.on_change = [this](const status::ConnectionInfo& info) { recorder_.Set(info); };
    auto session = cp::Session::Create(io_, std::move(o), std::move(callbacks));
    ASSERT_TRUE(session.ok()) << session.status();
    session_ = *std::move(session);
    session_->Start();
  }

  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> guard_ = net::make_work_guard(io_);
  std::thread io_thread_;
  ConnectionRecorder recorder_;
  std::unique_ptr<cp::Session> session_;
  std::unique_ptr<devcp::ControlPlane> cp_;
};

}  // namespace tether::testing

#include "tests/testing/app_fixture.h"

namespace tether::testing {

devcp::EventPredicate PingWith(std::string hash) {
  return [hash = std::move(hash)](const devcp::Event& e) {
    return e.kind == devcp::EventKind::kPing && e.payload == hash;
  };
}

void AppTest::StartCp(MtlsMode mode) {
  devcp::Options o;
  o.mtls = mode;
  o.cert_path = Fixture("certs/kong_clustering.crt");
  o.key_path = Fixture("certs/kong_clustering.key");
  if (mode == MtlsMode::kPki) o.ca_cert_path = Fixture("certs/kong_clustering_ca.crt");
  StartCpWith(o);
}

void AppTest::StartCpWith(const devcp::Options& options) {
  auto cp = devcp::ControlPlane::Create(options);
  ASSERT_TRUE(cp.ok()) << cp.status();
  cp_ = *std::move(cp);
}

void AppTest::StartApp(const std::vector<std::string>& extra_flags) {
  StartAppAt(cp_->port(), extra_flags);
}

void AppTest::StartAppAt(uint16_t port, const std::vector<std::string>& extra_flags) {
  settings_ = TestSettings(port, data_dir_.path(), extra_flags);
  auto app = app::App::Create(settings_);
  ASSERT_TRUE(app.ok()) << app.status();
  app_ = *std::move(app);
  app_->Start();
}

status::StatusView AppTest::AwaitStatus(
    const std::function<bool(const status::StatusView&)>& pred) {
  auto [view, held] = app_->status().WaitFor(pred, kWait);
  EXPECT_TRUE(held) << "status did not reach the expected state; last error: "
                    << view.connection.last_error;
  return view;
}

void AppTest::AwaitAppliedHash(const std::string& hash) {
  AwaitStatus([&](const status::StatusView& v) {
    return v.config.current && v.config.current->config_hash == hash;
  });
}

void AppTest::TearDown() {
  if (app_) {
    EXPECT_TRUE(app_->Stop(kWait));
  }
  if (cp_) cp_->Stop();
}

}  // namespace tether::testing

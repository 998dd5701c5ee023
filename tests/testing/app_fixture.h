// AppTest: a gtest fixture that runs tether's App against an in-process tether-devcp over real
// mTLS on loopback, with helpers to await status changes. Shared by the integration tests.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sidecar/app/app.h"
#include "tests/testing/testing.h"
#include "tools/devcp/control_plane.h"

namespace tether::testing {

// Generous bound for every wait: a healthy run never comes close to it.
inline constexpr absl::Duration kWait = absl::Seconds(30);
inline constexpr absl::string_view kZeroHash = "00000000000000000000000000000000";

// A devcp event predicate: a ping carrying `hash`.
devcp::EventPredicate PingWith(std::string hash);

class AppTest : public ::testing::Test {
 protected:
  // Starts tether-devcp with the test certificates (tests/fixtures/certs), shared or pki mode.
  void StartCp(MtlsMode mode = MtlsMode::kShared);
  void StartCpWith(const devcp::Options& options);
  // Starts the App against the CP (or `port`), with TestSettings plus `extra_flags`.
  void StartApp(const std::vector<std::string>& extra_flags = {});
  void StartAppAt(uint16_t port, const std::vector<std::string>& extra_flags = {});

  // Waits until `pred` holds for the status; fails the test (and returns the last view) if it
  // does not within kWait.
  status::StatusView AwaitStatus(const std::function<bool(const status::StatusView&)>& pred);
  void AwaitAppliedHash(const std::string& hash);

  void TearDown() override;

  TempDir data_dir_;
  settings::Settings settings_;
  std::unique_ptr<devcp::ControlPlane> cp_;
  std::unique_ptr<app::App> app_;
};

}  // namespace tether::testing

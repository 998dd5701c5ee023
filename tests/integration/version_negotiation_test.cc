// --node-version=auto against tether-devcp playing Kong CPs of several 3.x versions: tether finds
// each CP's minor by itself (never an older one, whose CP would strip newer fields), within five
// refused attempts, receives the config, remembers the version for the next start, and notices a
// CP upgraded since on that start. The pauses between refused tries (1, 2, 4, 8 s) are real: they
// are what keeps a fleet from hammering a CP, and a few seconds is what the search costs.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "sidecar/settings/node_identity.h"
#include "tests/testing/app_fixture.h"

namespace tether {
namespace {

using testing::kWait;

constexpr char kConfig[] = R"({"_format_version":"3.0","services":[)"
                           R"({"id":"0b5d8b3e-6c8e-4c57-9b0e-1f2a3b4c5d6e","name":"s"}]})";

class VersionNegotiationTest : public testing::AppTest {
 protected:
  // A CP playing `version` with kConfig; tether started with --node-version=auto on `data_dir`.
  void RunAgainst(const std::string& version, const std::string& data_dir) {
    devcp::Options o;
    o.cert_path = testing::Fixture("certs/kong_clustering.crt");
    o.key_path = testing::Fixture("certs/kong_clustering.key");
    o.version = version;
    StartCpWith(o);
    absl::StatusOr<std::string> hash = cp_->SetConfig(kConfig);
    ASSERT_TRUE(hash.ok()) << hash.status();
    StartApp({"--node-version=auto", "--data-dir=" + data_dir});
    // Connected with the version settled and the config from this CP (a restart serves the
    // cached one at once, with the same hash).
    AwaitStatus([&](const status::StatusView& v) {
      return v.connection.state == status::ConnectionState::kConnected &&
             v.connection.node_version_source != "negotiating" && v.config.current != nullptr &&
             v.config.current->config_hash == *hash &&
             v.config.current->source == config::Source::kControlPlane;
    });
  }
  void StopAll() {
    ASSERT_TRUE(app_->Stop(kWait));
    app_.reset();
    cp_->Stop();
    cp_.reset();
  }
  size_t Refusals() const {
    size_t n = 0;
    for (const devcp::Event& e : cp_->Events()) {
      n +=
          e.kind == devcp::EventKind::kHandshakeRejected && e.reason == "kong_version_incompatible";
    }
    return n;
  }
  // The version of the connection that is up now, as the CP saw it.
  std::string AcceptedVersion() const {
    std::string version;
    for (const devcp::Event& e : cp_->Events()) {
      if (e.kind == devcp::EventKind::kConnected) version = e.node_version;
    }
    return version;
  }
};

TEST_F(VersionNegotiationTest, FindsEachCpMinorWithinFiveRefusals) {
  for (const char* cp_version : {"3.4.0", "3.9.3", "3.15.0"}) {
    SCOPED_TRACE(cp_version);
    testing::TempDir data_dir;  // nothing remembered
    RunAgainst(cp_version, data_dir.path());
    const std::string minor = std::string(cp_version).substr(0, std::string(cp_version).rfind('.'));
    EXPECT_EQ(AcceptedVersion(), minor + ".0");
    EXPECT_LE(Refusals(), 5u);
    const status::StatusView view = app_->status().Get();
    EXPECT_EQ(view.connection.node_version, minor + ".0");
    EXPECT_EQ(view.connection.node_version_source, "negotiated");
    EXPECT_EQ(settings::LoadRememberedKongMinor(data_dir.path()), std::stoi(minor.substr(2)));
    StopAll();
  }
}

TEST_F(VersionNegotiationTest, RemembersTheVersionAndNoticesAnUpgradeOnTheNextStart) {
  RunAgainst("3.9.0", data_dir_.path());
  EXPECT_EQ(AcceptedVersion(), "3.9.0");
  StopAll();

  // Same CP: one refusal (3.10, tried in case the CP was upgraded), then the remembered 3.9.
  RunAgainst("3.9.0", data_dir_.path());
  EXPECT_EQ(AcceptedVersion(), "3.9.0");
  EXPECT_EQ(Refusals(), 1u);
  EXPECT_EQ(app_->status().Get().connection.node_version_source, "remembered");
  StopAll();

  // The CP was upgraded to 3.11 meanwhile: found on this start.
  RunAgainst("3.11.0", data_dir_.path());
  EXPECT_EQ(AcceptedVersion(), "3.11.0");
  EXPECT_EQ(settings::LoadRememberedKongMinor(data_dir_.path()), 11);
  StopAll();
}

}  // namespace
}  // namespace tether

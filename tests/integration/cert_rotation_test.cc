// Cluster certificate rotation without a restart, the way Kubernetes rotates a mounted secret:
// the files are symlinks through "..data", which is swapped atomically to a new directory. A valid
// new pair is presented on a graceful reconnect; a broken or expired one is refused and the
// current pair kept, with the connection untouched.
#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/app_fixture.h"
#include "tests/testing/certs.h"

namespace tether {
namespace {

using devcp::EventKind;
using devcp::OfKind;
using testing::CertFiles;
using testing::CertOptions;
using ::testing::HasSubstr;
using testing::kWait;
namespace fs = std::filesystem;

std::string ExampleConfig() {
  return testing::ReadFile(testing::SourceFile("deploy/examples/kong-config.json"));
}

CertOptions Named(std::string cn) {
  CertOptions o;
  o.common_name = std::move(cn);
  return o;
}

// A directory laid out like a mounted Kubernetes secret: tls.crt and tls.key are symlinks to
// ..data/tls.*, and ..data points at the current version's directory.
class SecretVolume {
 public:
  explicit SecretVolume(std::string dir) : dir_(std::move(dir)) {}

  std::string cert_path() const { return dir_ + "/tls.crt"; }
  std::string key_path() const { return dir_ + "/tls.key"; }

  // Publishes `cert` and `key` as the next version, as kubelet's atomic writer does.
  void Publish(const std::string& cert, const std::string& key) {
    const std::string version = absl::StrCat("..v", ++versions_);
    fs::create_directory(dir_ + "/" + version);
    fs::copy_file(cert, dir_ + "/" + version + "/tls.crt");
    fs::copy_file(key, dir_ + "/" + version + "/tls.key");
    fs::create_directory_symlink(version, dir_ + "/..data_tmp");
    fs::rename(dir_ + "/..data_tmp", dir_ + "/..data");
    if (versions_ == 1) {
      fs::create_symlink("..data/tls.crt", cert_path());
      fs::create_symlink("..data/tls.key", key_path());
    }
  }

 private:
  const std::string dir_;
  int versions_ = 0;
};

class CertRotationTest : public testing::AppTest {
 protected:
  // A PKI CP whose CA issued two client identities; tether starts with dp-a's.
  void SetUp() override {
    const std::string dir = certs_dir_.path();
    ca_ = testing::MakeSelfSignedCert(dir, "ca", Named("tether test ca"));
    const CertFiles server = testing::MakeIssuedCert(dir, "server", ca_, Named("cp.test"));
    a_ = testing::MakeIssuedCert(dir, "a", ca_, Named("dp-a"));
    b_ = testing::MakeIssuedCert(dir, "b", ca_, Named("dp-b"));
    fs::permissions(a_.key_path, fs::perms::owner_read | fs::perms::owner_write);
    volume_.Publish(a_.cert_path, a_.key_path);

    devcp::Options options;
    options.mtls = MtlsMode::kPki;
    options.cert_path = server.cert_path;
    options.key_path = server.key_path;
    options.ca_cert_path = ca_.cert_path;
    StartCpWith(options);
    auto hash = cp_->SetConfig(ExampleConfig());
    ASSERT_TRUE(hash.ok()) << hash.status();
    hash_ = *hash;
    StartApp({"--cluster-mtls=pki", "--cluster-cert=" + volume_.cert_path(),
              "--cluster-cert-key=" + volume_.key_path(), "--cluster-ca-cert=" + ca_.cert_path,
              "--cluster-server-name=cp.test", "--cert-check-interval=20ms"});
    AwaitAppliedHash(hash_);
    ASSERT_TRUE(cp_->WaitForEvent(testing::PingWith(hash_), kWait));
  }

  std::vector<devcp::Event> EventsOf(EventKind kind) {
    std::vector<devcp::Event> out;
    for (devcp::Event& e : cp_->Events()) {
      if (e.kind == kind) out.push_back(std::move(e));
    }
    return out;
  }
  std::vector<devcp::Event> Connections() { return EventsOf(EventKind::kConnected); }

  testing::TempDir certs_dir_;
  testing::TempDir secret_dir_;
  SecretVolume volume_{secret_dir_.path()};
  CertFiles ca_, a_, b_;
  std::string hash_;
};

TEST_F(CertRotationTest, ValidRotationIsPresentedOnAGracefulReconnect) {
  const status::StatusView before = app_->status().Get();
  EXPECT_THAT(before.connection.cert_subject, HasSubstr("CN=dp-a"));
  EXPECT_GT(before.connection.cert_not_after, absl::Now() + absl::Hours(23));
  ASSERT_EQ(Connections().size(), 1u);
  EXPECT_THAT(Connections()[0].client_subject, HasSubstr("CN=dp-a"));

  volume_.Publish(b_.cert_path, b_.key_path);

  ASSERT_TRUE(cp_->WaitForEventCount(OfKind(EventKind::kConnected), 2, kWait));
  EXPECT_THAT(Connections()[1].client_subject, HasSubstr("CN=dp-b"));
  // The old connection was closed by tether with a close frame, not dropped.
  const std::vector<devcp::Event> closed = EventsOf(EventKind::kClosed);
  ASSERT_FALSE(closed.empty());
  EXPECT_EQ(closed[0].connection, Connections()[0].connection);
  EXPECT_THAT(closed[0].reason, HasSubstr("close frame"));

  const status::StatusView after = AwaitStatus([](const status::StatusView& v) {
    return v.connection.state == status::ConnectionState::kConnected &&
           v.connection.cert_rotations == 1;
  });
  EXPECT_THAT(after.connection.cert_subject, HasSubstr("CN=dp-b"));
  EXPECT_TRUE(after.connection.cert_error.ok());
  // Straight back, no backoff wait, and the config was kept throughout.
  EXPECT_EQ(after.config.current->config_hash, hash_);
  EXPECT_THAT(after.connection.last_error.message(), HasSubstr("rotated"));
}

// A key file its group can read is flagged in status (and so in the metrics) and warned about,
// following the key in use across rotations.
TEST_F(CertRotationTest, KeyReadableByOthersIsFlagged) {
  EXPECT_FALSE(app_->status().Get().connection.cert_key_readable_by_others);
  fs::permissions(b_.key_path, fs::perms::owner_read | fs::perms::group_read);
  volume_.Publish(b_.cert_path, b_.key_path);
  const status::StatusView exposed =
      AwaitStatus([](const status::StatusView& v) { return v.connection.cert_rotations == 1; });
  EXPECT_TRUE(exposed.connection.cert_key_readable_by_others);
  volume_.Publish(a_.cert_path, a_.key_path);
  const status::StatusView private_again =
      AwaitStatus([](const status::StatusView& v) { return v.connection.cert_rotations == 2; });
  EXPECT_FALSE(private_again.connection.cert_key_readable_by_others);
}

TEST_F(CertRotationTest, BrokenRotationIsRefusedAndTheCurrentPairKept) {
  // The key of one identity with the certificate of another: a half-updated secret.
  volume_.Publish(b_.cert_path, a_.key_path);
  const status::StatusView refused =
      AwaitStatus([](const status::StatusView& v) { return !v.connection.cert_error.ok(); });
  EXPECT_THAT(refused.connection.cert_error.message(), HasSubstr("key values mismatch"));
  EXPECT_EQ(refused.connection.cert_rotations, 0u);
  EXPECT_THAT(refused.connection.cert_subject, HasSubstr("CN=dp-a"));
  EXPECT_EQ(refused.connection.state, status::ConnectionState::kConnected);

  // An expired certificate is refused the same way.
  const CertFiles expired =
      testing::MakeIssuedCert(certs_dir_.path(), "expired", ca_,
                              CertOptions{"dp-expired", -absl::Hours(48), -absl::Hours(24)});
  volume_.Publish(expired.cert_path, expired.key_path);
  const status::StatusView still = AwaitStatus([](const status::StatusView& v) {
    return absl::StrContains(v.connection.cert_error.message(), "expired");
  });
  EXPECT_EQ(still.connection.cert_rotations, 0u);

  // A good pair afterwards is picked up.
  volume_.Publish(b_.cert_path, b_.key_path);
  ASSERT_TRUE(cp_->WaitForEventCount(OfKind(EventKind::kConnected), 2, kWait));
  EXPECT_THAT(Connections()[1].client_subject, HasSubstr("CN=dp-b"));
  // Never dropped before that: one connection until the good pair came.
  EXPECT_EQ(EventsOf(EventKind::kClosed).size(), 1u);
}

}  // namespace
}  // namespace tether

// CredentialWatch's verdicts on real files: unchanged, a valid rotation, a broken or expired set
// refused once (and not again while it stays), and the files going back to the ones in use.
#include "sidecar/cp/credential_watch.h"

#include <filesystem>

#include "gtest/gtest.h"
#include "tests/testing/certs.h"
#include "tests/testing/testing.h"

namespace tether::cp {
namespace {

namespace fs = std::filesystem;
using Verdict = CredentialWatch::Verdict;

class CredentialWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = testing::MakeSelfSignedCert(certs_.path(), "a");
    b_ = testing::MakeSelfSignedCert(certs_.path(), "b");
    options_.mode = MtlsMode::kShared;
    options_.cert_path = certs_.path() + "/tls.crt";
    options_.key_path = certs_.path() + "/tls.key";
    Publish(a_.cert_path, a_.key_path);
    absl::StatusOr<TlsCredentials> loaded = LoadTlsCredentials(options_);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    watch_ = std::make_unique<CredentialWatch>(options_, *std::move(loaded));
  }
  void Publish(const std::string& cert, const std::string& key) {
    fs::copy_file(cert, options_.cert_path, fs::copy_options::overwrite_existing);
    fs::copy_file(key, options_.key_path, fs::copy_options::overwrite_existing);
  }

  testing::TempDir certs_;
  testing::CertFiles a_, b_;
  TlsOptions options_;
  std::unique_ptr<CredentialWatch> watch_;
};

TEST_F(CredentialWatchTest, UnchangedFilesAreUnchanged) {
  EXPECT_EQ(watch_->Check(absl::Now()), Verdict::kUnchanged);
  EXPECT_TRUE(watch_->refusal().ok());
}

TEST_F(CredentialWatchTest, ValidNewPairIsARotation) {
  const std::string before = watch_->current().cert_pem;
  Publish(b_.cert_path, b_.key_path);
  EXPECT_EQ(watch_->Check(absl::Now()), Verdict::kRotated);
  EXPECT_NE(watch_->current().cert_pem, before);
  EXPECT_EQ(watch_->Check(absl::Now()), Verdict::kUnchanged);
}

TEST_F(CredentialWatchTest, BrokenPairIsRefusedOnceThenRevertedToTheOneInUse) {
  const std::string in_use = watch_->current().cert_pem;
  Publish(b_.cert_path, a_.key_path);  // a key that does not match the certificate
  EXPECT_EQ(watch_->Check(absl::Now()), Verdict::kRefused);
  EXPECT_FALSE(watch_->refusal().ok());
  EXPECT_EQ(watch_->Check(absl::Now()), Verdict::kStillRefused);
  EXPECT_EQ(watch_->current().cert_pem, in_use);
  Publish(a_.cert_path, a_.key_path);
  EXPECT_EQ(watch_->Check(absl::Now()), Verdict::kReverted);
  EXPECT_TRUE(watch_->refusal().ok());
}

TEST_F(CredentialWatchTest, ExpiredPairIsRefused) {
  const testing::CertFiles expired = testing::MakeSelfSignedCert(
      certs_.path(), "expired",
      testing::CertOptions{.not_before = -absl::Hours(48), .not_after = -absl::Hours(24)});
  Publish(expired.cert_path, expired.key_path);
  EXPECT_EQ(watch_->Check(absl::Now()), Verdict::kRefused);
  EXPECT_NE(watch_->refusal().message().find("expired"), absl::string_view::npos)
      << watch_->refusal();
}

}  // namespace
}  // namespace tether::cp

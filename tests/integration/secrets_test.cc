// Private keys and credentials in the config may be served to local proxies, but never appear in
// tether's logs (at debug level too), its status, or its errors, whether the config is applied
// or rejected. Nor does the cluster certificate's own key.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/api/status_proto.h"
#include "tests/testing/app_fixture.h"
#include "tests/testing/log_capture.h"

namespace tether {
namespace {

using testing::kWait;

std::string ExampleConfig() {
  return testing::ReadFile(testing::SourceFile("deploy/examples/kong-config.json"));
}

// Fragments of every secret: the certificate key's base64 body, key-auth keys, a basic-auth
// password hash, the cluster key's body, and the markers the hostile frames below carry.
std::vector<std::string> Secrets() {
  std::string cluster_key = testing::ReadFile(testing::Fixture("certs/kong_clustering.key"));
  // The key's second base64 line: most of the first is a DER header every EC key shares.
  const size_t body = cluster_key.find('\n', cluster_key.find('\n') + 1) + 1;
  return {"dGV0aGVyIHRlc3QgZml4dHVyZTog",
          "alice-3f9c2e7d4b1a",
          "bob-8e1d5a0c7f6b",
          "1b7a18ba0bc854ae4e1d053f3a4363a987d475c5",
          cluster_key.substr(body, 40),
          "SECRET-IN-A-BAD-ENTITY",
          "SECRET-IN-BROKEN-JSON"};
}

class SecretsTest : public testing::AppTest {};

TEST_F(SecretsTest, NeverInLogsStatusOrErrors) {
  testing::LogCapture logs;
  StartCp();
  auto hash = cp_->SetConfig(ExampleConfig());
  ASSERT_TRUE(hash.ok());
  StartApp({"--log-level=debug"});
  AwaitAppliedHash(*hash);

  // Rejected frames whose broken part is the secret itself.
  cp_->PushMessage(
      R"({"type":"reconfigure","config_table":{"certificates":[{"id":7,"key":"SECRET-IN-A-BAD-ENTITY"}]}})");
  // One at a time: decoding is latest-wins, so a second frame pushed while the first waits would
  // replace it.
  AwaitStatus([](const status::StatusView& v) { return v.config.rejections == 1; });
  cp_->PushMessage(
      R"({"type":"reconfigure","config_table":{"keyauth_credentials":[{"id":"k","key":"SECRET-IN-BROKEN-JSON)");
  const status::StatusView view =
      AwaitStatus([](const status::StatusView& v) { return v.config.rejections == 2; });
  ASSERT_TRUE(logs.WaitForLines("config rejected", 2, kWait));
  ASSERT_TRUE(app_->Stop(kWait));

  // What a proxy gets holds the secrets: serving them is the point.
  const config::EntityCollection& certificates = *view.config.current->types.at("certificates");
  EXPECT_THAT(certificates.items.at(0).json, ::testing::HasSubstr(Secrets()[0]));

  api::StatusContext context;
  const std::string status_text = api::ToProto(view, context, absl::Now()).DebugString();
  const std::string log_text = absl::StrJoin(logs.Lines(), "\n");
  EXPECT_THAT(log_text, ::testing::HasSubstr("config applied"));  // the capture works
  for (const std::string& secret : Secrets()) {
    SCOPED_TRACE(secret);
    EXPECT_FALSE(absl::StrContains(log_text, secret));
    EXPECT_FALSE(absl::StrContains(status_text, secret));
    EXPECT_FALSE(absl::StrContains(view.config.last_rejection->reason, secret));
  }
}

}  // namespace
}  // namespace tether

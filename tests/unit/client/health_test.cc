// Client::CheckHealth against gRPC's built-in health service in process: the stub generated from
// our proto/grpc/health/v1/health.proto must speak the same wire format as the server that tether
// runs (gRPC's own, compiled from upstream's health.proto), for every status and for NotFound.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/lib/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/testing.h"
#include "tether/v1/status.grpc.pb.h"

namespace tether {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(10);

class HealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    target_ = absl::StrCat("unix://", dir_.path(), "/health.sock");
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort(target_, grpc::InsecureServerCredentials());
    builder.RegisterService(&status_service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(server_->GetHealthCheckService(), nullptr);
    absl::StatusOr<std::unique_ptr<client::Client>> tether = client::Client::Create(target_);
    ASSERT_TRUE(tether.ok()) << tether.status();
    tether_ = *std::move(tether);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  testing::TempDir dir_;
  std::string target_;
  // gRPC serves the built-in health service only beside at least one service of ours; this one
  // answers Unimplemented.
  tether::v1::StatusService::Service status_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<client::Client> tether_;
};

TEST_F(HealthTest, ServerAsAWholeFollowsItsStatus) {
  absl::StatusOr<client::HealthStatus> health = tether_->CheckHealth("", kWait);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, client::HealthStatus::kServing);

  server_->GetHealthCheckService()->SetServingStatus(false);
  health = tether_->CheckHealth("", kWait);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, client::HealthStatus::kNotServing);
}

// A named service travels in the request: its own status comes back, not the server's.
TEST_F(HealthTest, NamedServiceGetsItsOwnStatus) {
  server_->GetHealthCheckService()->SetServingStatus("tether.v1.ConfigService", false);
  absl::StatusOr<client::HealthStatus> health =
      tether_->CheckHealth("tether.v1.ConfigService", kWait);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, client::HealthStatus::kNotServing);

  server_->GetHealthCheckService()->SetServingStatus("tether.v1.ConfigService", true);
  health = tether_->CheckHealth("tether.v1.ConfigService", kWait);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, client::HealthStatus::kServing);
}

TEST_F(HealthTest, UnknownServiceIsNotFound) {
  absl::StatusOr<client::HealthStatus> health = tether_->CheckHealth("no.such.Service", kWait);
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(health.status().message(), HasSubstr("health check: "));
}

TEST_F(HealthTest, NoServerIsUnavailable) {
  server_->Shutdown();
  server_.reset();
  absl::StatusOr<client::HealthStatus> health = tether_->CheckHealth("", kWait);
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.status().code(), absl::StatusCode::kUnavailable);
}

TEST(HealthStatusNameTest, NamesMatchTheProto) {
  EXPECT_EQ(client::HealthStatusName(client::HealthStatus::kUnknown), "UNKNOWN");
  EXPECT_EQ(client::HealthStatusName(client::HealthStatus::kServing), "SERVING");
  EXPECT_EQ(client::HealthStatusName(client::HealthStatus::kNotServing), "NOT_SERVING");
  EXPECT_EQ(client::HealthStatusName(client::HealthStatus::kServiceUnknown), "SERVICE_UNKNOWN");
}

}  // namespace
}  // namespace tether

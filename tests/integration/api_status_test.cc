// tether.v1.StatusService, grpc.health.v1.Health and server reflection end to end, with tether's
// App connected to an in-process tether-devcp.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/stub_options.h>

#include <functional>
#include <set>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "tests/integration/api_harness.h"

namespace tether::api_test {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::IsSupersetOf;

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  grpc::Slice slice;
  EXPECT_TRUE(buffer.DumpToSingleSlice(&slice).ok());
  return std::string(reinterpret_cast<const char*>(slice.begin()), slice.size());
}

// A length-delimited protobuf field with a one-byte tag and a one-byte length.
std::string Field(int number, const std::string& value) {
  EXPECT_LT(value.size(), 128u);
  return std::string{static_cast<char>(number << 3 | 2), static_cast<char>(value.size())} + value;
}

// grpc.health.v1.Health/Check by hand (there is no generated stub to link): the request is
// HealthCheckRequest{service = 1}, the answer HealthCheckResponse{status = 1} with SERVING = 1,
// NOT_SERVING = 2. Returns the status, or -1 with the call's error.
int HealthCheck(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                grpc::Status* error = nullptr) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  const grpc::ByteBuffer request = ToBuffer(service.empty() ? "" : Field(1, service));
  grpc::ByteBuffer response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();  // bounded by the call's deadline
  if (error != nullptr) *error = status;
  if (!status.ok()) return -1;
  google::protobuf::UnknownFieldSet fields;
  const std::string bytes = FromBuffer(response);
  EXPECT_TRUE(fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  // proto3 leaves out the zero value (UNKNOWN).
  return fields.field_count() == 0 ? 0 : static_cast<int>(fields.field(0).varint());
}

constexpr int kServing = 1;
constexpr int kNotServing = 2;

// The service names the reflection service lists: one ServerReflectionInfo exchange with
// list_services (field 7), answered by list_services_response (field 6) of ServiceResponse
// {name = 1} entries. With `status_out` the call may fail (its status is stored there), else it
// must succeed.
std::set<std::string> ReflectedServices(const std::shared_ptr<grpc::Channel>& channel,
                                        grpc::Status* status_out = nullptr) {
  const bool must_succeed = status_out == nullptr;
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  auto step = [&](int id) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(tag, reinterpret_cast<void*>(id));
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  EXPECT_TRUE(step(1));
  const grpc::ByteBuffer request = ToBuffer(Field(7, "*"));
  call->Write(request, reinterpret_cast<void*>(2));
  EXPECT_TRUE(step(2) || !must_succeed);
  call->WritesDone(reinterpret_cast<void*>(3));
  EXPECT_TRUE(step(3) || !must_succeed);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(4));
  const bool read = step(4);
  grpc::Status status;
  if (read) {
    // Drains the end of the stream before finishing.
    grpc::ByteBuffer extra;
    call->Read(&extra, reinterpret_cast<void*>(5));
    step(5);
  }
  call->Finish(&status, reinterpret_cast<void*>(6));
  EXPECT_TRUE(step(6));
  if (must_succeed) {
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  if (status_out != nullptr) *status_out = status;
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  std::set<std::string> names;
  if (!read) return names;
  google::protobuf::UnknownFieldSet top;
  const std::string bytes = FromBuffer(response);
  EXPECT_TRUE(top.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  for (int i = 0; i < top.field_count(); ++i) {
    if (top.field(i).number() != 6) continue;
    google::protobuf::UnknownFieldSet list;
    EXPECT_TRUE(list.ParseFromString(top.field(i).length_delimited()));
    for (int j = 0; j < list.field_count(); ++j) {
      google::protobuf::UnknownFieldSet service;
      EXPECT_TRUE(service.ParseFromString(list.field(j).length_delimited()));
      if (service.field_count() > 0) names.insert(service.field(0).length_delimited());
    }
  }
  return names;
}

// Reads a WatchStatus stream until a message satisfies `pred`; false when the stream ended or the
// call's deadline passed first.
bool ReadUntil(grpc::ClientReader<v1::Status>& reader,
               const std::function<bool(const v1::Status&)>& pred, v1::Status* last = nullptr) {
  v1::Status status;
  while (reader.Read(&status)) {
    if (pred(status)) {
      if (last != nullptr) *last = status;
      return true;
    }
  }
  return false;
}

class ApiStatusTest : public ApiTest {};

// Health is NOT_SERVING for "" and tether.v1.ConfigService until the first config, then SERVING;
// an unknown service name is NOT_FOUND.
TEST_F(ApiStatusTest, HealthFlipsToServingOnFirstConfig) {
  StartApp();
  EXPECT_EQ(HealthCheck(Unix(), ""), kNotServing);
  EXPECT_EQ(HealthCheck(Tcp(), "tether.v1.ConfigService"), kNotServing);
  grpc::Status error;
  EXPECT_EQ(HealthCheck(Unix(), "no.such.Service", &error), -1);
  EXPECT_EQ(error.error_code(), grpc::StatusCode::NOT_FOUND);

  ConfigModel model;
  model.Put("services", Id(1), "a");
  Push(model);
  // Health follows the status board through an observer that runs just after the change is
  // visible in status, so a reader of status may ask a moment before the flip: wait for it.
  EXPECT_TRUE(testing::AwaitUntil([&] { return HealthCheck(Unix(), "") == kServing; }, kWait));
  EXPECT_EQ(HealthCheck(Tcp(), "tether.v1.ConfigService"), kServing);
}

// Reflection is on: it lists the tether services and health, so grpcurl-style tools work
// without the proto files.
TEST_F(ApiStatusTest, ReflectionListsServices) {
  StartApp();
  EXPECT_THAT(ReflectedServices(Unix()),
              IsSupersetOf(
                  {"tether.v1.ConfigService", "tether.v1.StatusService", "grpc.health.v1.Health"}));
}

// --grpc-reflection=false: the reflection service is not there at all.
TEST_F(ApiStatusTest, ReflectionOffIsNotServed) {
  StartApp({"--grpc-reflection=false"});
  grpc::Status status;
  EXPECT_THAT(ReflectedServices(Unix(), &status), IsEmpty());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
  // Reflection is per server: a later one in the same process with the default still has it.
  ASSERT_TRUE(app_->Stop(kWait));
  app_.reset();
  StartApp();
  EXPECT_THAT(ReflectedServices(Unix()), Contains("tether.v1.ConfigService"));
}

// WatchStatus sends the current status at once (nothing else changes here: pings are an hour
// apart), then a message for each kind of change: config applied, config rejected, the CP
// closing the connection (DISCONNECTED) and the reconnect (CONNECTED).
TEST_F(ApiStatusTest, WatchStatusEmitsOnConnectApplyRejectDisconnect) {
  StartApp({"--ping-interval=1h", "--ping-timeout=2h"});
  AwaitStatus([](const status::StatusView& v) {
    return v.connection.state == status::ConnectionState::kConnected;
  });
  auto stub = v1::StatusService::NewStub(Unix());
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  auto reader = stub->WatchStatus(&context, v1::WatchStatusRequest());
  v1::Status status;
  ASSERT_TRUE(reader->Read(&status)) << "no status at once";
  EXPECT_EQ(status.control_plane().state(), v1::CONNECTION_STATE_CONNECTED);
  EXPECT_EQ(status.config().hash(), "00000000000000000000000000000000");
  EXPECT_EQ(status.node().node_id(), settings_.node_id);
  EXPECT_EQ(status.node().hostname(), "dp-test.local");
  EXPECT_EQ(status.node().version(), "3.10.0");
  EXPECT_FALSE(status.node().tether_version().empty());
  EXPECT_THAT(status.control_plane().url(), HasSubstr("wss://127.0.0.1:"));

  ConfigModel model;
  model.Put("services", Id(1), "a");
  model.Put("routes", Id(2), "a");
  const std::string hash = Push(model);
  ASSERT_TRUE(ReadUntil(
      *reader, [&](const v1::Status& s) { return s.config().hash() == hash; }, &status));
  EXPECT_EQ(status.config().entity_counts().at("services"), 1u);
  EXPECT_EQ(status.config().entity_counts().at("routes"), 1u);
  EXPECT_EQ(status.config().source(), v1::SOURCE_CONTROL_PLANE);
  EXPECT_EQ(status.config().apply_count(), 1u);
  EXPECT_GT(status.config().decoded_bytes(), 0u);
  EXPECT_GT(status.config().compressed_bytes(), 0u);
  EXPECT_GT(status.config().applied_at().seconds(), 0);

  cp_->PushMessage(R"({"type":"reconfigure"})");
  ASSERT_TRUE(ReadUntil(
      *reader, [](const v1::Status& s) { return s.config().rejection_count() == 1; }, &status));
  EXPECT_THAT(status.config().last_rejection().reason(), HasSubstr("missing config_table"));
  EXPECT_EQ(status.config().hash(), hash);

  cp_->CloseAll();
  ASSERT_TRUE(ReadUntil(
      *reader,
      [](const v1::Status& s) {
        return s.control_plane().state() == v1::CONNECTION_STATE_DISCONNECTED;
      },
      &status));
  EXPECT_THAT(status.control_plane().last_error(), HasSubstr("closed the connection"));
  ASSERT_TRUE(ReadUntil(*reader, [](const v1::Status& s) {
    return s.control_plane().state() == v1::CONNECTION_STATE_CONNECTED &&
           s.control_plane().reconnect_count() >= 1;
  }));
  context.TryCancel();
}

// WatchStatus shows subscribers joining and leaving.
TEST_F(ApiStatusTest, WatchStatusEmitsOnSubscriberJoinAndLeave) {
  StartApp({"--ping-interval=1h", "--ping-timeout=2h"});
  auto stub = v1::StatusService::NewStub(Tcp());
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  auto reader = stub->WatchStatus(&context, v1::WatchStatusRequest());
  {
    WatchStream watch(Unix());
    ASSERT_TRUE(watch.Subscribe("joiner", {"routes"}));
    ASSERT_TRUE(ReadUntil(*reader, [](const v1::Status& s) {
      return s.subscribers_size() == 1 && s.subscribers(0).client_id() == "joiner";
    }));
    watch.context().TryCancel();
  }
  EXPECT_TRUE(ReadUntil(*reader, [](const v1::Status& s) { return s.subscribers_size() == 0; }));
  context.TryCancel();
}

// Hints, from real failures: nothing listening; a CP that refuses the node's Kong version right
// after basic_info; a CP that withholds config because a configured plugin is not advertised.
TEST_F(ApiStatusTest, HintsExplainLikelyCauses) {
  // Each case needs its own CP and App.
  {
    SCOPED_TRACE("connection refused");
    testing::RefusingPort refusing;
    settings_ = testing::TestSettings(refusing.port(), data_dir_.path(),
                                      {"--grpc-listen=unix://" + socket_path_});
    auto app = app::App::Create(settings_);
    ASSERT_TRUE(app.ok()) << app.status();
    (*app)->Start();
    auto stub = v1::StatusService::NewStub(NewChannel("unix://" + socket_path_));
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    auto reader = stub->WatchStatus(&context, v1::WatchStatusRequest());
    v1::Status status;
    EXPECT_TRUE(ReadUntil(
        *reader, [](const v1::Status& s) { return !s.control_plane().hint().empty(); }, &status));
    EXPECT_THAT(status.control_plane().hint(), HasSubstr("nothing listens at 127.0.0.1:"));
    context.TryCancel();
    EXPECT_TRUE((*app)->Stop(kWait));
  }
  {
    SCOPED_TRACE("version refused");
    devcp::Options o;
    o.cert_path = testing::Fixture("certs/kong_clustering.crt");
    o.key_path = testing::Fixture("certs/kong_clustering.key");
    o.version = "3.4.0";  // older minor than the node's 3.10.0: refused after basic_info
    auto old_cp = devcp::ControlPlane::Create(o);
    ASSERT_TRUE(old_cp.ok());
    settings_ = testing::TestSettings((*old_cp)->port(), data_dir_.path(),
                                      {"--grpc-listen=unix://" + socket_path_});
    auto app = app::App::Create(settings_);
    ASSERT_TRUE(app.ok()) << app.status();
    (*app)->Start();
    auto stub = v1::StatusService::NewStub(NewChannel("unix://" + socket_path_));
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    auto reader = stub->WatchStatus(&context, v1::WatchStatusRequest());
    v1::Status status;
    EXPECT_TRUE(ReadUntil(
        *reader, [](const v1::Status& s) { return !s.control_plane().hint().empty(); }, &status));
    EXPECT_THAT(status.control_plane().hint(),
                HasSubstr("closed the connection right after basic_info"));
    EXPECT_THAT(status.control_plane().hint(), HasSubstr("--node-version"));
    // The version tether advertised, whether the refusal arrived as the close frame or as the
    // reset that Kong's immediate close often causes (the cause is the same either way).
    EXPECT_THAT(status.control_plane().hint(), HasSubstr("tether advertised 3.10.0"));
    EXPECT_EQ(status.control_plane().last_error_cause(), "ended_after_basic_info");
    EXPECT_EQ(status.control_plane().node_version(), "3.10.0");
    context.TryCancel();
    EXPECT_TRUE((*app)->Stop(kWait));
    (*old_cp)->Stop();
  }
  {
    SCOPED_TRACE("config withheld");
    ConfigModel model;
    model.entities["plugins"][Id(1)] =
        absl::StrCat(R"({"id":")", Id(1), R"(","name":"not-advertised","config":{}})");
    ASSERT_TRUE(cp_->SetConfig(model.ToJson()).ok());
    StartApp({"--plugins=key-auth", "--ping-interval=50ms", "--ping-timeout=10s"});
    auto stub = v1::StatusService::NewStub(Unix());
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    auto reader = stub->WatchStatus(&context, v1::WatchStatusRequest());
    v1::Status status;
    // Each pong is a change, so the stream re-evaluates the hint as time passes.
    EXPECT_TRUE(ReadUntil(
        *reader, [](const v1::Status& s) { return !s.control_plane().hint().empty(); }, &status));
    EXPECT_THAT(status.control_plane().hint(),
                HasSubstr("connected but no config: the control plane may be withholding config "
                          "because a configured plugin is missing from --plugins"));
    EXPECT_EQ(status.control_plane().state(), v1::CONNECTION_STATE_CONNECTED);
    context.TryCancel();
  }
}

// GetStatus reports the node, the config counters and the CP connection in one answer.
TEST_F(ApiStatusTest, GetStatusReportsConfigAndConnection) {
  StartApp({"--cluster-dp-labels=region:eu-west-1"});
  ConfigModel model;
  model.Put("services", Id(1), "a");
  const std::string hash = Push(model);
  auto stub = v1::StatusService::NewStub(Tcp());
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  v1::Status status;
  ASSERT_TRUE(stub->GetStatus(&context, v1::GetStatusRequest(), &status).ok());
  EXPECT_EQ(status.config().hash(), hash);
  EXPECT_EQ(status.config().hashes().at("config"), hash);
  EXPECT_EQ(status.node().labels().at("region"), "eu-west-1");
  EXPECT_EQ(status.control_plane().state(), v1::CONNECTION_STATE_CONNECTED);
  EXPECT_EQ(status.control_plane().attempts(), 1u);
  EXPECT_GT(status.control_plane().connected_since().seconds(), 0);
  EXPECT_EQ(status.control_plane().hint(), "");
}

}  // namespace
}  // namespace tether::api_test

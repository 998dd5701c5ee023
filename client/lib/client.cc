// Client (client.h): the one-shot calls, each a blocking gRPC call on the shared channel.
#include "client/lib/client.h"

#include <grpcpp/grpcpp.h>

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tether/v1/config.grpc.pb.h"
#include "tether/v1/status.grpc.pb.h"

namespace tether::client {
namespace {

namespace v1 = ::tether::v1;
namespace health = ::grpc::health::v1;

// gRPC and absl share code numbers (absl/status/status.h says so).
absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

void SetTimeout(grpc::ClientContext& context, absl::Duration timeout) {
  if (timeout != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
}

}  // namespace

absl::string_view HealthStatusName(HealthStatus status) {
  switch (status) {
    case HealthStatus::kServing:
      return "SERVING";
    case HealthStatus::kNotServing:
      return "NOT_SERVING";
    case HealthStatus::kServiceUnknown:
      return "SERVICE_UNKNOWN";
    case HealthStatus::kUnknown:
      break;
  }
  return "UNKNOWN";
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(std::string target,
                                                       std::optional<TlsOptions> tls) {
  if (target.empty()) return absl::InvalidArgumentError("client target is empty");
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeChannel(target, tls, absl::Milliseconds(100), absl::Seconds(1));
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<Client>(new Client(std::move(target), *std::move(channel)));
}

Client::Client(std::string target, std::shared_ptr<grpc::Channel> channel)
    : target_(std::move(target)), channel_(std::move(channel)) {}

absl::StatusOr<v1::Status> Client::GetStatus(absl::Duration timeout) const {
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  v1::Status status;
  grpc::Status result =
      v1::StatusService::NewStub(channel_)->GetStatus(&context, v1::GetStatusRequest(), &status);
  if (!result.ok()) return FromGrpc(result, "GetStatus");
  return status;
}

absl::Status Client::WatchStatus(const std::function<bool(const v1::Status&)>& on_status) const {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::Status>> reader =
      v1::StatusService::NewStub(channel_)->WatchStatus(&context, v1::WatchStatusRequest());
  v1::Status status;
  bool stopped = false;
  while (reader->Read(&status)) {
    if (!on_status(status)) {
      stopped = true;
      context.TryCancel();
      break;
    }
  }
  grpc::Status result = reader->Finish();
  if (stopped || result.ok()) return absl::OkStatus();
  return FromGrpc(result, "WatchStatus");
}

absl::StatusOr<MirrorPtr> Client::GetConfig(const std::vector<std::string>& entity_types,
                                            absl::Duration timeout) const {
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  v1::GetConfigRequest request;
  for (const std::string& type : entity_types) request.add_entity_types(type);
  std::unique_ptr<grpc::ClientReader<v1::WatchResponse>> reader =
      v1::ConfigService::NewStub(channel_)->GetConfig(&context, request);
  UpdateAssembler assembler;
  MirrorPtr mirror;
  v1::WatchResponse chunk;
  absl::Status bad_chunk;
  while (reader->Read(&chunk)) {
    absl::StatusOr<std::optional<MirrorPtr>> added = assembler.Add(chunk);
    if (!added.ok()) {
      bad_chunk = added.status();
      context.TryCancel();
      break;
    }
    if (added->has_value()) mirror = **added;
  }
  grpc::Status result = reader->Finish();
  constexpr absl::string_view what = "GetConfig";
  if (!bad_chunk.ok()) {
    return absl::Status(bad_chunk.code(), absl::StrCat(what, ": ", bad_chunk.message()));
  }
  if (!result.ok()) return FromGrpc(result, what);
  if (mirror == nullptr) {
    return absl::UnavailableError(absl::StrCat(what, ": the stream ended before the last chunk"));
  }
  return mirror;
}

absl::StatusOr<HealthStatus> Client::CheckHealth(absl::string_view service,
                                                 absl::Duration timeout) const {
  grpc::ClientContext context;
  SetTimeout(context, timeout);
  health::HealthCheckRequest request;
  request.set_service(std::string(service));
  health::HealthCheckResponse response;
  // The callback API, as the generic call this replaced: it starts gRPC's background pollers,
  // which from then on also service the process's other connections while their owners block
  // elsewhere. lifecycle_test's unread sync Watch stream needs that for tether's shutdown to
  // complete; a blocking Check left it waiting out the server's deadline.
  grpc::Status result;
  absl::Notification done;
  health::Health::NewStub(channel_)->async()->Check(&context, &request, &response,
                                                    [&](grpc::Status status) {
                                                      result = std::move(status);
                                                      done.Notify();
                                                    });
  done.WaitForNotification();
  if (!result.ok()) return FromGrpc(result, "health check");
  switch (response.status()) {
    case health::HealthCheckResponse::SERVING:
      return HealthStatus::kServing;
    case health::HealthCheckResponse::NOT_SERVING:
      return HealthStatus::kNotServing;
    case health::HealthCheckResponse::SERVICE_UNKNOWN:
      return HealthStatus::kServiceUnknown;
    default:
      return HealthStatus::kUnknown;
  }
}

}  // namespace tether::client

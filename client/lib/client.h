// Client: the blocking one-shot calls that tools (tetherctl, the load tool, tests) make to a
// running tether: GetStatus, WatchStatus, GetConfig and the standard health check. Proxies follow
// the config with ConfigWatcher (config_watcher.h) instead.
//
// Threading: thread-safe (see the class).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/lib/channel.h"
#include "client/lib/mirror.h"
#include "tether/v1/status.pb.h"

namespace tether::client {

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class HealthStatus { kUnknown, kServing, kNotServing, kServiceUnknown };
absl::string_view HealthStatusName(HealthStatus status);

// One channel to a tether, and the blocking calls that tools need. Errors carry the gRPC code
// (Unavailable when tether cannot be reached, DeadlineExceeded after `timeout`) and name the call
// ("GetStatus: ..."); target() names the peer.
//
// Threading: thread-safe; calls may run concurrently. They block the calling thread, so never
// make them from a gRPC reaction or a proxy's event loop.
class Client {
 public:
  // InvalidArgument for an empty target or unreadable TLS files. Connects lazily, on the first
  // call; with `tls`, over mutual TLS (see TlsOptions).
  static absl::StatusOr<std::unique_ptr<Client>> Create(std::string target,
                                                        std::optional<TlsOptions> tls = {});

  const std::string& target() const { return target_; }

  absl::StatusOr<tether::v1::Status> GetStatus(absl::Duration timeout) const;

  // Calls on_status with every status tether streams (the current one first) until on_status
  // returns false (then OK) or the stream fails (then its error). No deadline: it runs as long
  // as tether and on_status go on.
  absl::Status WatchStatus(const std::function<bool(const tether::v1::Status&)>& on_status) const;

  // The current config restricted to entity_types (empty: all), assembled from GetConfig's
  // chunks. FailedPrecondition when tether holds no config yet.
  absl::StatusOr<MirrorPtr> GetConfig(const std::vector<std::string>& entity_types,
                                      absl::Duration timeout) const;

  // grpc.health.v1.Health/Check for `service` ("" is the server as a whole). NotFound when
  // tether does not know the service.
  absl::StatusOr<HealthStatus> CheckHealth(absl::string_view service, absl::Duration timeout) const;

 private:
  Client(std::string target, std::shared_ptr<grpc::Channel> channel);

  const std::string target_;
  const std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace tether::client

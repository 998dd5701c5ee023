// MakeChannel (see channel.h).
#include "client/lib/channel.h"

#include <grpcpp/grpcpp.h>

namespace tether::client {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, absl::Duration reconnect_min,
                                           absl::Duration reconnect_max) {
  grpc::ChannelArguments args;
  // gRPC's own reconnect backoff starts at 1 s and grows to 120 s: a sidecar that restarts would
  // be found again only after that, whatever our stream-level backoff says.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(reconnect_min)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(reconnect_max)));
  // tether listens on a unix socket or on loopback only: there is no transport to secure.
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

}  // namespace tether::client

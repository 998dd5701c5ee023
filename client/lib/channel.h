// Where the client library finds tether, and the gRPC channel both of its halves (ConfigWatcher
// and Client) open to it.
//
// Threading: thread-safe (no shared state; channels are thread-safe).
#pragma once

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace tether::client {

// The sidecar's default socket: unix://<--data-dir>/tether.sock with the default --data-dir.
inline constexpr absl::string_view kDefaultTarget = "unix:///var/lib/tether/tether.sock";

// An insecure channel to `target` (tether listens on a unix socket or on loopback only) whose
// reconnect backoff runs from reconnect_min to reconnect_max instead of gRPC's 1 s to 120 s.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, absl::Duration reconnect_min,
                                           absl::Duration reconnect_max);

}  // namespace tether::client

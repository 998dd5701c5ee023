// Where the client library finds tether, and the gRPC channel both of its halves (ConfigWatcher
// and Client) open to it.
//
// Threading: thread-safe (no shared state; channels are thread-safe).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace tether::client {

// The sidecar's default socket: unix://<--data-dir>/tether.sock with the default --data-dir.
inline constexpr absl::string_view kDefaultTarget = "unix:///var/lib/tether/tether.sock";

// Mutual TLS to a tether whose TCP listeners serve --grpc-tls-cert: PEM file paths. The files
// are read again while the channel lives (every kTlsRefreshInterval), so a rotated client
// certificate is picked up by the next connection.
struct TlsOptions {
  std::string cert_path;  // the client certificate (chain) tether's --grpc-client-ca issued
  std::string key_path;   // its private key
  std::string ca_path;    // the CA(s) tether's --grpc-tls-cert chains to
  // The name tether's certificate must carry (and SNI); empty: the host of the target.
  std::string server_name;
};
inline constexpr absl::Duration kTlsRefreshInterval = absl::Seconds(10);

// A channel to `target` whose reconnect backoff runs from reconnect_min to reconnect_max instead
// of gRPC's 1 s to 120 s: plaintext without `tls` (a unix socket, or loopback), mutual TLS with
// it. InvalidArgument when a TLS file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const std::optional<TlsOptions>& tls,
                                                           absl::Duration reconnect_min,
                                                           absl::Duration reconnect_max);

}  // namespace tether::client

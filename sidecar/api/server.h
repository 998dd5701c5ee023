// Server: tether's gRPC API for proxies. It listens on unix sockets (each peer's uid/gid checked,
// see unix_listener.h) and on TCP (plaintext on loopback, or mutual TLS, see tls_credentials.h)
// and serves tether.v1.ConfigService, tether.v1.StatusService, the standard grpc.health.v1.Health
// and (unless turned off) server reflection.
//
// Why one class: the listeners, the services and the health status share one lifetime, and
// shutdown must happen in one order (streams told first, then the transport closed, then the
// fan-out worker joined) whoever calls it.
//
// Health: "" and "tether.v1.ConfigService" are SERVING exactly while status::ReadinessOf says
// ready (a config is loaded and tether is not draining); Shutdown sets them NOT_SERVING.
//
// Lifecycle: Create binds, starts serving and returns (gRPC binds and starts in one step, so a
// bind failure is a Create error). Shutdown(timeout) ends every stream with UNAVAILABLE "tether is
// shutting down", closes the listeners, cancels what did not end by the deadline and removes the
// unix socket files; it is idempotent, and the destructor calls it. The unix listeners stop
// accepting before the server shuts down, so no connection is handed to a server shutting down.
//
// Threading: thread-safe. Create, Shutdown and the accessors may be called from any thread but a
// gRPC callback thread. Owned by app::App; `store` and `status` must outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sidecar/api/tls_credentials.h"
#include "sidecar/api/unix_listener.h"
#include "sidecar/api/update_cache.h"
#include "sidecar/common/mutex.h"
#include "sidecar/config/snapshot_store.h"
#include "sidecar/status/status_board.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace tether::api {

class ConfigService;
class StatusService;

struct ListenAddress {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  // kUnix: the socket's absolute path.
  std::string path;
  // kTcp: an IP address (IPv6 without brackets) and a port; 0 picks a free port.
  std::string host;
  uint16_t port = 0;
};

struct ServerOptions {
  std::vector<ListenAddress> listen;
  // With it, every TCP listener serves mutual TLS; without, plaintext.
  std::optional<TlsFiles> tls;
  // Who may connect to the unix sockets. Empty lists: tether's own uid and primary gid.
  AllowedPeers unix_peers;
  // Requests are tiny (a subscribe, an ack); anything bigger is a broken or hostile client.
  int max_receive_message_bytes = 64 * 1024;
  // Chunk size cap for updates (see update_builder.h); tests lower it to exercise chunking.
  size_t max_chunk_bytes = 0;  // 0: kDefaultMaxChunkBytes
  // Byte budget of the updates kept for sharing between subscribers (update_cache.h).
  size_t update_cache_bytes = kDefaultUpdateCacheBytes;
  // Bounds against a flooding client: Watch streams in all (refused with RESOURCE_EXHAUSTED
  // beyond; four times the 1000 subscribers the load benchmark runs), streams on one connection
  // (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: a client queues the rest), and the memory gRPC's
  // transport may use for every connection's buffers (grpc::ResourceQuota).
  size_t max_subscribers = 4096;
  int max_streams_per_connection = 256;
  size_t memory_quota_bytes = 256 * 1024 * 1024;
  // Serve grpc.reflection.v1alpha.ServerReflection, which grpcurl and buf rely on.
  bool reflection = true;
  // The CP session's ping interval, which the status hints measure "for a while" against.
  absl::Duration ping_interval = absl::Seconds(30);
  // The URL the CP session dials, shown in status.
  std::string control_plane_url;
};

class Server {
 public:
  // Binds every address (unix sockets as UnixListener::Bind, mode 0660) and starts serving.
  // FailedPrecondition for a socket path held by another server or not a socket; InvalidArgument
  // for unusable TLS files; Unavailable when an address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Create(ServerOptions options,
                                                        config::SnapshotStore& store,
                                                        status::StatusBoard& status);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound addresses, in ListenAddress order and gRPC's spelling: "unix:///path",
  // "127.0.0.1:41234" (with the chosen port where 0 was asked for).
  const std::vector<std::string>& addresses() const { return addresses_; }

  // See Lifecycle. Returns false when the deadline passed before every stream had ended (the
  // rest were then cancelled).
  bool Shutdown(absl::Duration timeout);

  // The config service's update cache counters (builds, hits).
  UpdateCache::Stats ConfigStatsForTest() const;

 private:
  class HealthSwitch;

  Server() = default;

  std::vector<std::string> addresses_;
  // Filled by unix_listeners_, read by config_service_; declared first, so it outlives both.
  UnixPeerNames unix_peer_names_;
  std::vector<std::unique_ptr<UnixListener>> unix_listeners_;
  // Kept in step with the board by status_service_, declared after it and so destroyed first.
  std::unique_ptr<HealthSwitch> health_;
  std::unique_ptr<ConfigService> config_service_;
  std::unique_ptr<StatusService> status_service_;
  // Declared after the services it serves, so it is destroyed before them.
  std::unique_ptr<grpc::Server> server_;

  Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  bool clean_shutdown_ ABSL_GUARDED_BY(shutdown_mu_) = true;
};

}  // namespace tether::api

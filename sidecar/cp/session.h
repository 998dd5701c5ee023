// Session: the data plane's websocket session with a Kong control plane (v1, /v1/outlet).
//
// Why: this is the part of a Kong data plane that tether re-implements (kong-protocol.md §1-5):
// mTLS connect, basic_info, a ping every interval carrying the applied config hash, a pong
// deadline, latest-wins hand-off of config frames to a decode worker, and reconnects with
// jittered backoff, for as long as the process runs. It knows nothing of config contents: frames
// go out through SessionCallbacks::on_frame and the applied hash comes back.
//
// Certificates: the cluster cert, key and trust files are checked every cert_check_interval.
// When they change (a Kubernetes secret rotation swaps symlinks), a valid, unexpired new set
// replaces the old one and the connection is closed gracefully and re-opened at once to present
// it; a broken or expired set is refused loudly (ConnectionInfo::cert_error) and the old one kept.
//
// Lifecycle: Create validates and builds; Start returns once the engine runs; Stop(timeout)
// closes the connection with an empty close frame (or abandons a half-open connect or a backoff
// wait) and returns when the reader, pinger, closer and decode worker have all stopped.
//
// Threading: Start/Stop may be called from any thread except the io_context's own. Internally
// sequence-bound to one strand on the given io_context (reader, pinger and closer coroutines and
// every piece of connection state live there); frames are decoded on the session's own worker
// thread, and results are posted back to the strand.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/common/backoff.h"
#include "sidecar/cp/proxy_options.h"
#include "sidecar/cp/tls_options.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace tether::cp {

enum class ConnectionState { kConnecting, kConnected, kDisconnected, kStopped };
absl::string_view ConnectionStateName(ConnectionState state);

// What the session knows about its connection; published on every change.
struct ConnectionInfo {
  ConnectionState state = ConnectionState::kDisconnected;
  std::string address;  // host:port as configured
  std::string peer;     // ip:port connected to, now or last (the proxy's, through a proxy)
  absl::Time connected_since = absl::InfinitePast();  // current connection, when kConnected
  absl::Time last_pong_at = absl::InfinitePast();
  absl::Duration last_ping_rtt = absl::ZeroDuration();
  uint64_t attempts = 0;    // connection attempts so far
  uint64_t reconnects = 0;  // attempts after a connection that had been established
  absl::Status last_error;  // why the last connection or attempt ended (ok before any)
  // How long the last established connection lasted, and whether it carried a config frame:
  // together they tell "the CP closed right after basic_info" from "the CP withholds config".
  absl::Duration last_connection_duration = absl::ZeroDuration();
  bool config_received = false;  // on the current (or last) connection
  uint64_t frames_received = 0;  // complete binary frames read, over all connections
  absl::Duration retry_in = absl::ZeroDuration();  // kDisconnected: wait before the next attempt
  // The cluster certificate in use (its leaf), and the rotations picked up from disk so far.
  absl::Time cert_not_after = absl::InfinitePast();
  std::string cert_subject;
  uint64_t cert_rotations = 0;
  // Why the files on disk were refused as a rotation (the previous pair stays in use); ok when
  // the files on disk are the ones in use.
  absl::Status cert_error;
};

struct SessionOptions {
  std::string host;
  uint16_t port = 8005;
  TlsOptions tls;
  std::string node_id;
  std::string node_hostname;
  std::string node_version;
  std::string basic_info;  // the JSON text, see BuildBasicInfo
  // Hash to ping with until a config is applied (32 zeros, or a cached config's hash).
  std::string initial_config_hash = "00000000000000000000000000000000";
  size_t max_payload_bytes = 16777216;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration ping_interval = absl::Seconds(30);
  absl::Duration ping_timeout = absl::Seconds(45);
  // How often the certificate files are read again to pick up a rotation.
  absl::Duration cert_check_interval = absl::Seconds(10);
  // Bound on the close handshake when stopping.
  absl::Duration close_timeout = absl::Seconds(5);
  BackoffPolicy backoff;
  // Reach the CP through this HTTP CONNECT proxy (Kong's cluster_use_proxy). The proxy's name is
  // resolved instead of the CP's; the CP's name goes to the proxy in the CONNECT request.
  std::optional<ProxyOptions> proxy;
  // Replaces DNS when set: the IP addresses `host` resolves to, asked on every attempt like the
  // resolver it replaces. For tests, since a loopback peer cannot change what a name resolves to.
  std::function<absl::StatusOr<std::vector<std::string>>(const std::string& host)> resolve_for_test;
};

// One complete binary frame from the CP.
struct Frame {
  std::string bytes;
  absl::Time received_at;
};

struct SessionCallbacks {
  // Runs on the decode worker for the newest pending frame only. Returns the config hash applied
  // afterwards when the frame was applied or matched the applied config (the session then pings
  // with it at once), or nullopt when the frame was rejected or ignored.
  std::function<std::optional<std::string>(Frame)> on_frame;
  // Runs on the session strand after every change; must return quickly.
  std::function<void(const ConnectionInfo&)> on_change;
  // Runs on the session strand when the session itself refuses a frame (over max payload).
  std::function<void(const absl::Status&)> on_frame_refused;
};

class Session {
 public:
  // Checks the options (including that the TLS files load) before anything runs.
  static absl::StatusOr<std::unique_ptr<Session>> Create(boost::asio::io_context& io,
                                                         SessionOptions options,
                                                         SessionCallbacks callbacks);
  ~Session();  // Stops if still running.

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start();
  // Idempotent. Returns false when `timeout` passed before everything stopped (connections are
  // then aborted rather than closed cleanly).
  bool Stop(absl::Duration timeout);

  // "wss://host:port/v1/outlet?node_id=...": for logs and status.
  std::string Url() const;

  class Impl;

 private:
  explicit Session(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// The request target for the websocket upgrade. Kong concatenates the query values without
// URL-encoding (§1.1); the values are validated at start-up so none needs it.
std::string OutletTarget(const SessionOptions& options);

}  // namespace tether::cp

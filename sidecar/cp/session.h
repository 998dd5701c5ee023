// Session: the data plane's websocket session with a Kong control plane (v1, /v1/outlet).
//
// Why: this is the part of a Kong data plane that tether re-implements (kong-protocol.md §1-5):
// mTLS connect, basic_info, a ping every interval carrying the applied config hash, a pong
// deadline, and reconnects with jittered backoff, for as long as the process runs. It knows
// nothing of config contents: frames go out through SessionCallbacks::on_frame (to the config
// pipeline, which decodes latest-wins) and the applied hash comes back through SetAppliedHash.
// Each ended attempt or connection is published with a typed cause (status::FailureCause),
// decided where the error is built.
//
// Certificates: the cluster cert, key and trust files are checked every cert_check_interval.
// When they change (a Kubernetes secret rotation swaps symlinks), a valid, unexpired new set
// replaces the old one and the connection is closed gracefully and re-opened at once to present
// it; a broken or expired set is refused loudly (ConnectionInfo::cert_error) and the old one kept.
//
// Time: every wait (backoff, ping schedule, pong and connect deadlines, certificate checks) and
// every time it reads follow SessionOptions::clock, so tests move them with a FakeClock.
//
// Lifecycle: Create validates and builds; Start returns once the engine runs; Stop(timeout)
// closes the connection with an empty close frame (or abandons a half-open connect or a backoff
// wait) and returns when the reader, pinger and closer have all stopped.
//
// Threading: Start/Stop may be called from any thread except the io_context's own;
// SetAppliedHash from any thread. Internally sequence-bound to one strand on the given io_context
// (reader, pinger and closer coroutines and every piece of connection state live there; debug
// builds check it).
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
#include "sidecar/common/clock.h"
#include "sidecar/cp/proxy_options.h"
#include "sidecar/cp/tls_options.h"
#include "sidecar/status/connection.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace tether::cp {

struct SessionOptions {
  std::string host;
  uint16_t port = 8005;
  TlsOptions tls;
  std::string node_id;
  std::string node_hostname;
  // The Kong version to advertise, or, with negotiate_version, what status shows until the CP
  // accepted one (e.g. "auto").
  std::string node_version;
  // Find the CP's version by itself (VersionNegotiator), starting one minor above
  // remembered_minor when set.
  bool negotiate_version = false;
  std::optional<int> remembered_minor;
  // The basic_info JSON to send when advertising a version (see BuildBasicInfo): the plugin list
  // follows the version.
  std::function<std::string(absl::string_view node_version)> basic_info;
  // With negotiate_version, the longest pause after a refused attempt (they grow 1, 2, 4, 8 s up
  // to it): a few attempts a minute at most, so a fleet searching at once cannot hammer a CP.
  absl::Duration negotiation_pause = absl::Seconds(12);
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
  // Every time the session reads and every wait it makes (backoff, ping schedule, pong and
  // connect deadlines, certificate checks) follows this clock. Its timers follow
  // Clock::ForTimers(), so this must be that clock: Real(), or the test's FakeClock.
  const Clock* clock = &Clock::Real();
  // Reach the CP through this HTTP CONNECT proxy (Kong's cluster_use_proxy). The proxy's name is
  // resolved instead of the CP's; the CP's name goes to the proxy in the CONNECT request.
  std::optional<ProxyOptions> proxy;
  // Replaces DNS when set: the IP addresses `host` resolves to, asked on every attempt like the
  // resolver it replaces. For tests, since a loopback peer cannot change what a name resolves to.
  std::function<absl::StatusOr<std::vector<std::string>>(const std::string& host)> resolve_for_test;
};

// Every callback runs on the session strand and must return quickly.
struct SessionCallbacks {
  // Each complete binary frame from the CP, as received. The config pipeline queues it (latest
  // wins) and reports what it applied through Session::SetAppliedHash.
  std::function<void(std::string frame, absl::Time received_at)> on_frame;
  // After every change of the connection's state.
  std::function<void(const status::ConnectionInfo&)> on_change;
  // When the session itself refuses a frame (over max payload).
  std::function<void(const absl::Status&)> on_frame_refused;
  // When the CP accepted a negotiated version (see negotiate_version), so that it can be
  // remembered for the next start.
  std::function<void(const std::string& node_version)> on_version_accepted;
  // At most once, when the session ends without Stop having been called: a bug, since it retries
  // every failure for as long as the process runs. The process should drain and exit.
  std::function<void(const absl::Status&)> on_unexpected_end;
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
  // then aborted rather than closed cleanly); never waits longer than `timeout`.
  bool Stop(absl::Duration timeout);

  // The config hash applied by the pipeline (or confirmed unchanged): pings carry it from now on,
  // and one goes out at once as Kong's data plane does after each apply (§3.6). Any thread; the
  // one call that flows back into the session, because the protocol needs it.
  void SetAppliedHash(std::string config_hash);

  // "wss://host:port/v1/outlet?node_id=...": for logs and status.
  std::string Url() const;

  // Ends the session's run as a bug would (an exception in its coroutine), for the test of what
  // the process does then.
  void EndUnexpectedlyForTest();

  class Impl;

 private:
  explicit Session(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace tether::cp

// ControlPlane: tether-devcp, a development Kong control plane speaking the v1 wire protocol
// (wss://HOST:PORT/v1/outlet) with the open-source CP's strictness.
//
// Why: developers need a CP to run tether against without Kong and its database (scripts/run
// starts the tether-devcp binary), and integration tests need one they can drive and observe
// in-process: push a config or arbitrary bytes, go silent, close or drop connections, and await
// what happened instead of sleeping. It shares no code with the daemon except protocol/.
//
// What a DP meets here, as on an OSS CP (kong-protocol.md):
//  1. TLS 1.2+. Shared mode: any client certificate passes TLS, then the SHA-256 of its DER must
//     equal that of the CP's own certificate, or the CP closes without an HTTP response (444);
//     no certificate is refused the same way. PKI mode: the client certificate must chain to
//     the CA file (depth 4) or TLS fails (§1.2).
//  2. Upgrade only on /v1/outlet (else 404); node_id and node_version must be present (else
//     400) (§1.1).
//  3. The first frame must be a binary basic_info within basic_info_timeout, else an empty close
//     frame (§2). Stricter than Kong: a text or control frame there is refused too.
//  4. Kong version: a different major or a newer minor gets an empty close frame, and the
//     connection is closed at once, as Kong's `ngx.exit(444)` does (§2): no wait for the DP's
//     close frame, and what the DP sent meanwhile stays unread, so it may see a reset instead.
//  5. The current config is pushed right after basic_info and on every SetConfig, unless the DP
//     lacks a configured plugin: then the push is withheld and the connection kept (§3.3, §3.4).
//  6. After basic_info only pings with exactly 32 bytes are allowed; anything else, or silence
//     for ping_wait, gets an empty close frame (§4.2). The CP never pings.
//  7. Pongs are empty (§4.1). Beast's echo the ping's payload, so EmptyPongStream
//     (empty_pong_stream.h) rewrites them on their way to TLS.
//
// Known differences from Kong, all from Beast's websocket:
//  - A ping that is then refused (wrong length) is still answered with a pong before the close
//    frame, because Beast sends the pong before the CP can act on it.
//  - When the DP closes first, Beast answers with close code 1000 rather than an empty payload.
//
// Lifecycle: Create binds and starts serving on its own io thread; Stop (and the destructor)
// sends an empty close frame to every connection, aborts what has not closed within
// handshake_timeout, and joins the thread.
//
// Threading: thread-safe. Every method may be called from any thread; the io thread never runs
// caller code. Methods that act on connections run their part on the io thread and return once
// it is done there (frames are then queued, not necessarily written: await kConfigPushed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "protocol/constants.h"
#include "sidecar/common/mtls_mode.h"
#include "tools/devcp/event_log.h"

namespace tether::devcp {

struct Options {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0 picks a free port; see port()
  MtlsMode mtls = MtlsMode::kShared;
  // PEM files of the CP's certificate (chain) and key. In shared mode the certificate is also
  // the only client certificate accepted.
  std::string cert_path;
  std::string key_path;
  // PKI mode only: the CA that must have issued client certificates.
  std::string ca_cert_path;
  // The CP's Kong version, for the version check (§2).
  std::string version = "3.10.0";
  // Silence after which a DP is closed (§4.2 PING_WAIT).
  absl::Duration ping_wait = protocol::kPingWait;
  // Bounds the TLS handshake plus the upgrade request and response, and each close handshake.
  absl::Duration handshake_timeout = protocol::kClusteringTimeout;
  // Time a DP has after the upgrade to send basic_info (§2: CLUSTERING_TIMEOUT).
  absl::Duration basic_info_timeout = protocol::kClusteringTimeout;
  // Largest frame accepted from a DP.
  size_t max_payload_bytes = protocol::kDefaultMaxPayloadBytes;
  // Events kept (oldest dropped first); 0 keeps all, which suits tests.
  size_t max_events = 0;
  // Like a Kong Enterprise CP under a reconnect storm: the first `busy_upgrades` upgrade
  // requests are answered 429 with Retry-After of `busy_retry_after` (whole seconds).
  int busy_upgrades = 0;
  absl::Duration busy_retry_after = absl::Seconds(30);
};

class ControlPlane {
 public:
  // Validates `options`, loads the TLS files, binds and starts serving. InvalidArgument for bad
  // options or TLS files, Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<ControlPlane>> Create(Options options);
  ~ControlPlane();  // Calls Stop.

  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // The bound port (the ephemeral one when Options::listen_port was 0).
  uint16_t port() const;

  // Idempotent; returns once every connection is closed and the io thread has exited.
  // Afterwards the push and connection methods do nothing (SetConfig: FailedPrecondition).
  void Stop();

  // Makes `config_table_json` (a JSON object, the flat CP push form of §7) the current config:
  // stamps it with its config_hash and hashes (CalculateConfigHash), gzips the reconfigure
  // message, and queues it to every DP past basic_info; each DP that connects later gets it
  // right after its basic_info. Returns the config_hash; InvalidArgument for bad JSON.
  absl::StatusOr<std::string> SetConfig(absl::string_view config_table_json);

  // Gzips `message_json` as given (no validation, no hash) and queues it to every DP past
  // basic_info, once. The current config is unchanged.
  void PushMessage(absl::string_view message_json);
  // Queues `bytes` unchanged as one binary frame to every DP past basic_info, once (corrupt
  // gzip, a frame too large, ...). The current config is unchanged.
  void PushRawFrame(std::string bytes);
  // Like PushRawFrame, but as a CP (or middlebox) dripping it: the frame's header and first
  // payload byte at once, then one byte every `per_byte`. The DP's pings are answered only once
  // the frame is written, as they would be by a real peer.
  void PushRawFrameSlowly(std::string bytes, absl::Duration per_byte);

  // A silent, half-open CP: while frozen no byte is read from or written to any connection, so
  // pings go unanswered and the DP's pong deadline fires; new connections stall in TLS. The
  // ping_wait and handshake timers are suspended and restart on Unfreeze.
  void Freeze();
  void Unfreeze();

  // Sends an empty close frame to every DP (like Kong), then closes; connections still in the
  // TLS or HTTP stage are just closed.
  void CloseAll();
  // Closes every TCP connection abruptly: no close frame, no TLS close_notify.
  void DropAll();

  // Observation, for tests: a snapshot of the log, or waiting until a matching event exists.
  std::vector<Event> Events() const;
  // The first matching event, waiting up to `timeout`; nullopt on timeout.
  std::optional<Event> WaitForEvent(const EventPredicate& predicate, absl::Duration timeout) const;
  // The `n`th (1-based) matching event, waiting up to `timeout`; nullopt on timeout.
  std::optional<Event> WaitForEventCount(const EventPredicate& predicate, size_t n,
                                         absl::Duration timeout) const;

  class Impl;

 private:
  explicit ControlPlane(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tether::devcp

// ConnectionInfo: what tether knows about its link to the control plane, and FailureCause: why
// the last attempt or connection ended, as a typed value.
//
// Why here and not in cp/: status, metrics, probes and the operator hint all read the
// connection, and none of them should see Beast, TLS or SessionOptions. cp/ records the cause at
// the point where it builds the error (it alone knows which step failed and what had been
// received); readers switch on the enum and never parse the message, which stays free text for
// people.
//
// Threading: plain value types (thread-compatible).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tether::status {

enum class ConnectionState { kConnecting, kConnected, kDisconnected, kStopped };
absl::string_view ConnectionStateName(ConnectionState state);

// Why a connection attempt or an established connection to the CP ended.
enum class FailureCause {
  kNone,                 // nothing ended yet
  kDns,                  // the CP's (or proxy's) name did not resolve
  kRefused,              // nothing listens at the address (TCP RST to the SYN)
  kUnreachable,          // any other TCP connect failure (no route, network down)
  kTimeout,              // the connect deadline passed during resolve, connect or a handshake
  kCredentials,          // the cluster cert, key or CA files cannot be used
  kServerUntrusted,      // tether does not trust the CP's certificate
  kClientCertRefused,    // the CP refused tether's client certificate (a TLS alert)
  kTls,                  // any other TLS handshake failure
  kProxy,                // the forward proxy (--proxy-server) failed or refused the tunnel
  kUpgradeRefused,       // the websocket upgrade was answered with an http status or cut off
  kCpBusy,               // the upgrade was answered 429 or 503 (Retry-After is honoured)
  kEndedAfterBasicInfo,  // the CP ended the connection after basic_info, before sending anything:
                         // Kong's answer to a node version it does not accept (close frame,
                         // then the socket closed at once, often seen as a reset)
  kNoPong,               // nothing from the CP within --ping-timeout
  kFrameTooSlow,         // a message from the CP did not complete by its deadline (cp/connection.h)
  kClosedByCp,           // the CP sent a close frame on an established connection
  kConnectionLost,       // the connection failed after the CP had spoken (reset, EOF, write)
  kRotation,             // tether closed it to present a rotated cluster certificate
  kVersionProbe,         // tether closed it to try a newer Kong version (negotiation)
  kInternal,             // a bug: a connection task threw
};
inline constexpr size_t kFailureCauseCount = static_cast<size_t>(FailureCause::kInternal) + 1;
// snake_case, for status, logs and tetherctl: "dns", "ended_after_basic_info", ...
absl::string_view FailureCauseName(FailureCause cause);
// The coarser Prometheus label of tether_control_plane_connection_failures_total: "dns",
// "refused", "timeout", "tls", "protocol", "proxy", "closed", "other". Kept coarse and stable so
// that dashboards and alerts survive a finer cause being added.
absl::string_view FailureMetricReason(FailureCause cause);
inline constexpr std::array<absl::string_view, 8> kFailureMetricReasons = {
    "dns", "refused", "timeout", "tls", "protocol", "proxy", "closed", "other"};

// The session publishes this on every change.
struct ConnectionInfo {
  ConnectionState state = ConnectionState::kDisconnected;
  std::string address;  // host:port as configured
  std::string peer;     // ip:port connected to, now or last (the proxy's, through a proxy)
  absl::Time connected_since = absl::InfinitePast();  // current connection, when kConnected
  absl::Time last_pong_at = absl::InfinitePast();
  absl::Duration last_ping_rtt = absl::ZeroDuration();
  uint64_t attempts = 0;    // connection attempts so far
  uint64_t reconnects = 0;  // attempts after a connection that had been established
  // Why the last connection or attempt ended: the cause, and the message for people (ok and
  // kNone before any).
  absl::Status last_error;
  FailureCause last_cause = FailureCause::kNone;
  // The node version the last attempt advertised, so the hint for a refusal can name it, and
  // how it was chosen ("flag", "negotiating", "negotiated", "remembered").
  std::string node_version;
  std::string node_version_source;
  // Waits lengthened to honour a CP's Retry-After.
  uint64_t retry_after_waits = 0;
  // How long the last established connection lasted, and whether it carried a config frame:
  // together they tell "the CP closed right after basic_info" from "the CP withholds config".
  absl::Duration last_connection_duration = absl::ZeroDuration();
  bool config_received = false;  // on the current (or last) connection
  uint64_t frames_received = 0;  // complete binary frames read, over all connections
  absl::Duration retry_in = absl::ZeroDuration();  // kDisconnected: wait before the next attempt
  // The cluster certificate in use (its leaf), the rotations picked up from disk so far, and the
  // changed files refused as a rotation (each distinct refusal once).
  absl::Time cert_not_after = absl::InfinitePast();
  std::string cert_subject;
  uint64_t cert_rotations = 0;
  uint64_t cert_rotations_refused = 0;
  // The key file in use can be read by its group or others (a warning, not an error).
  bool cert_key_readable_by_others = false;
  // Why the files on disk were refused as a rotation (the previous pair stays in use); ok when
  // the files on disk are the ones in use.
  absl::Status cert_error;
};

}  // namespace tether::status

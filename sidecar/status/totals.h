// Totals: counters by cause and the decode-time distribution that the StatusBoard keeps next to
// its state, so that /metrics is a projection of one StatusView.
//
// Why on the board: the board already receives every connection change, apply and rejection, and
// status, logs and metrics must agree. Counting here (rather than in a metrics sink fed by its own
// calls) keeps one entry point per event, and a scrape that copies one view sees totals and state
// from the same instant. Prometheus counters must never go down, so these survive the connection,
// subscriber or config they came from.
//
// The causes are small fixed sets (Prometheus label values must not be unbounded); the
// classifiers map a Status onto them in one place each.
//
// Threading: plain value types (thread-compatible); the board guards its copy.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tether::status {

// Why a connection attempt or an established connection to the CP ended.
enum class ConnectFailure {
  kDns,       // the CP's name did not resolve
  kRefused,   // nothing listens at the address
  kTimeout,   // connect/handshake deadline, or no pong or frame within --ping-timeout
  kTls,       // TLS handshake or certificate failure, or the cluster cert files cannot be used
  kProtocol,  // the websocket upgrade failed or was refused (an http status instead of 101)
  kProxy,     // the forward proxy (--proxy-server) failed or refused the tunnel
  kClosed,    // the CP or the network ended an established connection
  kOther,
};
inline constexpr size_t kConnectFailureCount = 8;
// The Prometheus label value: "dns", "refused", "timeout", "tls", "protocol", "proxy", "closed",
// "other".
absl::string_view ConnectFailureName(ConnectFailure failure);
// Maps cp::ConnectionInfo::last_error (cp/session.cc names the failed step first, like Beast's
// fail(): "resolve: ...", "tls handshake: ...") onto a cause.
ConnectFailure ClassifyConnectFailure(const absl::Status& error);

// Why a config frame was refused.
enum class RejectReason {
  kTooLarge,     // over --cluster-max-payload, the inflated cap or the nesting limit
  kGzip,         // corrupt or truncated compressed data
  kJson,         // not valid JSON
  kShape,        // valid JSON that is not a Kong reconfigure message
  kEmptyConfig,  // refused by --guard-empty-config
  kOther,
};
inline constexpr size_t kRejectReasonCount = 6;
// The Prometheus label value: "too_large", "gzip", "json", "shape", "empty_config", "other".
absl::string_view RejectReasonName(RejectReason reason);
// Maps a decode error (config/decoder.h, config/inflate.h) or the session's refusal onto a cause.
RejectReason ClassifyRejection(const absl::Status& error);

// Upper bounds of the decode-duration buckets: from a small config (a millisecond) to a huge one
// on a slow node (a minute).
inline constexpr std::array<absl::Duration, 14> kDecodeDurationBounds = {
    absl::Milliseconds(1),    absl::Milliseconds(5),   absl::Milliseconds(10),
    absl::Milliseconds(25),   absl::Milliseconds(50),  absl::Milliseconds(100),
    absl::Milliseconds(250),  absl::Milliseconds(500), absl::Seconds(1),
    absl::Milliseconds(2500), absl::Seconds(5),        absl::Seconds(10),
    absl::Seconds(30),        absl::Seconds(60)};

// A distribution of decode durations over kDecodeDurationBounds.
struct DecodeDurations {
  // counts[i]: observations in (bound[i-1], bound[i]]; the last entry counts those above every
  // bound. Not cumulative (Prometheus' buckets are; the exporter adds them up).
  std::array<uint64_t, kDecodeDurationBounds.size() + 1> counts{};
  uint64_t count = 0;
  absl::Duration sum;

  void Observe(absl::Duration d);
};

struct Totals {
  // Indexed by ConnectFailure.
  std::array<uint64_t, kConnectFailureCount> connection_failures{};
  // Indexed by RejectReason.
  std::array<uint64_t, kRejectReasonCount> rejections{};
  // Updates fully written to subscribers, past and present.
  uint64_t updates_sent = 0;
  // Of applied configs (a rejected frame has no meaningful decode time).
  DecodeDurations decode_durations;
};

}  // namespace tether::status

// Totals: counters by cause and the decode-time distribution that the StatusBoard keeps next to
// its state, so that /metrics is a projection of one StatusView.
//
// Why on the board: the board already receives every connection change, apply and rejection, and
// status, logs and metrics must agree. Counting here (rather than in a metrics sink fed by its own
// calls) keeps one entry point per event, and a scrape that copies one view sees totals and state
// from the same instant. Prometheus counters must never go down, so these survive the connection,
// subscriber or config they came from.
//
// Counted by typed cause (status::FailureCause, config::RejectCause), recorded where each error
// is built: small fixed sets, as Prometheus label values must be.
//
// Threading: plain value types (thread-compatible); the board guards its copy.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/config/decoder.h"
#include "sidecar/status/connection.h"

namespace tether::status {

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

// How an --on-change-exec run ended (tether_on_change_exec_runs_total's outcome label).
enum class HookOutcome { kOk, kFailed, kTimeout };
inline constexpr size_t kHookOutcomeCount = 3;
absl::string_view HookOutcomeName(HookOutcome outcome);
// Why a connection to a gRPC unix socket was closed unserved (tether_grpc_peers_refused_total).
enum class PeerRefusal {
  kNotAllowed,     // the peer's uid and gid are not allowed
  kNoCredentials,  // SO_PEERCRED failed: nothing to check
};
inline constexpr size_t kPeerRefusalCount = 2;
// The metric's label values, indexed by PeerRefusal.
inline constexpr std::array<absl::string_view, kPeerRefusalCount> kPeerRefusalNames = {
    "not_allowed", "no_credentials"};

struct Totals {
  // Indexed by FailureCause.
  std::array<uint64_t, kFailureCauseCount> connection_failures{};
  // Indexed by config::RejectCause.
  std::array<uint64_t, config::kRejectCauseCount> rejections{};
  // Updates fully written to subscribers, past and present, and the NACKs they answered with.
  uint64_t updates_sent = 0;
  uint64_t nacks = 0;
  // Applied configs that could not be saved as the last-known-good cache.
  uint64_t cache_write_failures = 0;
  // Updates the gRPC API's update cache dropped to stay within its byte budget
  // (--grpc-update-cache-bytes).
  uint64_t update_cache_evictions = 0;
  // Watch streams the gRPC API refused beyond --grpc-max-subscribers.
  uint64_t subscribers_refused = 0;
  // --write-config files written, and applied configs that could not be written.
  uint64_t config_file_writes = 0;
  uint64_t config_file_write_failures = 0;
  // --on-change-exec runs, indexed by HookOutcome.
  std::array<uint64_t, kHookOutcomeCount> hook_runs{};
  // Connections to the gRPC unix sockets closed by the peer check, indexed by PeerRefusal.
  std::array<uint64_t, kPeerRefusalCount> grpc_peers_refused{};
  // Of applied configs (a rejected frame has no meaningful decode time).
  DecodeDurations decode_durations;
};

// Connection failures whose FailureMetricReason is `reason` ("closed", "timeout", ...), as the
// metric's label counts them.
uint64_t ConnectionFailuresWithReason(const Totals& totals, absl::string_view reason);

}  // namespace tether::status

#include "sidecar/status/totals.h"

#include "absl/strings/match.h"

namespace tether::status {
namespace {

// The step that failed: the message up to its first ':' (cp/session.cc's StepError form).
absl::string_view Step(const absl::Status& error) {
  const absl::string_view message = error.message();
  return message.substr(0, message.find(':'));
}

}  // namespace

absl::string_view ConnectFailureName(ConnectFailure failure) {
  switch (failure) {
    case ConnectFailure::kDns:
      return "dns";
    case ConnectFailure::kRefused:
      return "refused";
    case ConnectFailure::kTimeout:
      return "timeout";
    case ConnectFailure::kTls:
      return "tls";
    case ConnectFailure::kProtocol:
      return "protocol";
    case ConnectFailure::kProxy:
      return "proxy";
    case ConnectFailure::kClosed:
      return "closed";
    case ConnectFailure::kOther:
      break;
  }
  return "other";
}

ConnectFailure ClassifyConnectFailure(const absl::Status& error) {
  // Deadlines are the session's own: the connect watchdog and the pong deadline.
  if (absl::IsDeadlineExceeded(error)) return ConnectFailure::kTimeout;
  // Only the TLS context and the server identity setup refuse their input this way.
  if (absl::IsInvalidArgument(error)) return ConnectFailure::kTls;
  const absl::string_view step = Step(error);
  if (step == "resolve") return ConnectFailure::kDns;
  if (step == "connect") {
    return absl::StrContains(error.message(), "refused") ? ConnectFailure::kRefused
                                                         : ConnectFailure::kOther;
  }
  if (absl::StartsWith(step, "proxy")) return ConnectFailure::kProxy;
  if (step == "tls handshake") return ConnectFailure::kTls;
  if (step == "websocket upgrade") return ConnectFailure::kProtocol;
  if (step == "send basic_info" || step == "read" || step == "ping" ||
      absl::StartsWith(error.message(), "control plane closed the connection")) {
    return ConnectFailure::kClosed;
  }
  return ConnectFailure::kOther;
}

absl::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kTooLarge:
      return "too_large";
    case RejectReason::kGzip:
      return "gzip";
    case RejectReason::kJson:
      return "json";
    case RejectReason::kShape:
      return "shape";
    case RejectReason::kEmptyConfig:
      return "empty_config";
    case RejectReason::kOther:
      break;
  }
  return "other";
}

RejectReason ClassifyRejection(const absl::Status& error) {
  // Every cap (payload, inflated size, JSON nesting) says ResourceExhausted.
  if (absl::IsResourceExhausted(error)) return RejectReason::kTooLarge;
  if (!absl::IsInvalidArgument(error)) return RejectReason::kOther;
  if (absl::StartsWith(error.message(), "inflate:")) return RejectReason::kGzip;
  if (absl::StartsWith(error.message(), "invalid json")) return RejectReason::kJson;
  return RejectReason::kShape;
}

void DecodeDurations::Observe(absl::Duration d) {
  size_t bucket = 0;
  while (bucket < kDecodeDurationBounds.size() && d > kDecodeDurationBounds[bucket]) ++bucket;
  ++counts[bucket];
  ++count;
  sum += d;
}

}  // namespace tether::status

#include "sidecar/status/connection.h"

namespace tether::status {

absl::string_view ConnectionStateName(ConnectionState state) {
  switch (state) {
    case ConnectionState::kConnecting:
      return "connecting";
    case ConnectionState::kConnected:
      return "connected";
    case ConnectionState::kDisconnected:
      return "disconnected";
    case ConnectionState::kStopped:
      return "stopped";
  }
  return "unknown";
}

absl::string_view FailureCauseName(FailureCause cause) {
  switch (cause) {
    case FailureCause::kNone:
      return "none";
    case FailureCause::kDns:
      return "dns";
    case FailureCause::kRefused:
      return "refused";
    case FailureCause::kUnreachable:
      return "unreachable";
    case FailureCause::kTimeout:
      return "timeout";
    case FailureCause::kCredentials:
      return "credentials";
    case FailureCause::kServerUntrusted:
      return "server_untrusted";
    case FailureCause::kClientCertRefused:
      return "client_cert_refused";
    case FailureCause::kTls:
      return "tls";
    case FailureCause::kProxy:
      return "proxy";
    case FailureCause::kUpgradeRefused:
      return "upgrade_refused";
    case FailureCause::kCpBusy:
      return "cp_busy";
    case FailureCause::kEndedAfterBasicInfo:
      return "ended_after_basic_info";
    case FailureCause::kNoPong:
      return "no_pong";
    case FailureCause::kFrameTooSlow:
      return "frame_too_slow";
    case FailureCause::kClosedByCp:
      return "closed_by_cp";
    case FailureCause::kConnectionLost:
      return "connection_lost";
    case FailureCause::kRotation:
      return "rotation";
    case FailureCause::kVersionProbe:
      return "version_probe";
    case FailureCause::kInternal:
      return "internal";
  }
  return "unknown";
}

absl::string_view FailureMetricReason(FailureCause cause) {
  switch (cause) {
    case FailureCause::kDns:
      return "dns";
    case FailureCause::kRefused:
      return "refused";
    case FailureCause::kTimeout:
    case FailureCause::kNoPong:
    case FailureCause::kFrameTooSlow:
      return "timeout";
    case FailureCause::kCredentials:
    case FailureCause::kServerUntrusted:
    case FailureCause::kClientCertRefused:
    case FailureCause::kTls:
      return "tls";
    case FailureCause::kUpgradeRefused:
    case FailureCause::kCpBusy:
      return "protocol";
    case FailureCause::kProxy:
      return "proxy";
    case FailureCause::kEndedAfterBasicInfo:
    case FailureCause::kClosedByCp:
    case FailureCause::kConnectionLost:
      return "closed";
    case FailureCause::kNone:
    case FailureCause::kUnreachable:
    case FailureCause::kRotation:
    case FailureCause::kVersionProbe:
    case FailureCause::kInternal:
      break;
  }
  return "other";
}

}  // namespace tether::status

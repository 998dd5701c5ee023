#include "sidecar/settings/settings.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tether::settings {

std::string FormatHostPort(const HostPort& host_port) {
  if (absl::StrContains(host_port.host, ':')) {
    return absl::StrCat("[", host_port.host, "]:", host_port.port);
  }
  return absl::StrCat(host_port.host, ":", host_port.port);
}

std::string FormatGrpcListen(const GrpcListenAddress& address) {
  switch (address.kind) {
    case GrpcListenAddress::Kind::kUnix:
      return absl::StrCat("unix://", address.path);
    case GrpcListenAddress::Kind::kTcp:
      break;
  }
  return FormatHostPort(address.tcp);
}

}  // namespace tether::settings

#include "sidecar/settings/settings.h"

#include "absl/strings/str_cat.h"
#include "sidecar/common/host_port.h"

namespace tether::settings {

std::string FormatHostPort(const HostPort& host_port) {
  return JoinHostPort(host_port.host, host_port.port);
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

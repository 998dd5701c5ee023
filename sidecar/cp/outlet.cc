#include "sidecar/cp/outlet.h"

#include "absl/strings/str_cat.h"
#include "protocol/constants.h"
#include "sidecar/common/host_port.h"

namespace tether::cp {

std::string OutletTarget(const SessionOptions& options, absl::string_view node_version) {
  return absl::StrCat(protocol::kOutletPath, "?node_id=", options.node_id,
                      "&node_hostname=", options.node_hostname, "&node_version=", node_version);
}

std::string OutletUrl(const SessionOptions& options) {
  return absl::StrCat("wss://", JoinHostPort(options.host, options.port),
                      OutletTarget(options, options.node_version));
}

}  // namespace tether::cp

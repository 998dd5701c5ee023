#include "sidecar/cp/outlet.h"

#include "absl/strings/str_cat.h"
#include "protocol/constants.h"
#include "sidecar/common/host_port.h"

namespace tether::cp {

namespace {

std::string NodeTarget(const SessionOptions& options) {
  return absl::StrCat(protocol::kOutletPath, "?node_id=", options.node_id,
                      "&node_hostname=", options.node_hostname);
}

}  // namespace

std::string OutletTarget(const SessionOptions& options, absl::string_view node_version) {
  return absl::StrCat(NodeTarget(options), "&node_version=", node_version);
}

std::string OutletUrl(const SessionOptions& options) {
  return absl::StrCat("wss://", JoinHostPort(options.host, options.port), NodeTarget(options));
}

}  // namespace tether::cp

// The websocket URL of Kong's v1 data-plane endpoint (kong-protocol.md §1.1), for the upgrade
// request, logs and status.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <string>

#include "sidecar/cp/session.h"

namespace tether::cp {

// The request target: "/v1/outlet?node_id=...&node_hostname=...&node_version=...". Kong
// concatenates the query values without URL-encoding (§1.1); the values are validated at
// start-up so none needs it.
std::string OutletTarget(const SessionOptions& options);

// "wss://host:port/v1/outlet?node_id=...".
std::string OutletUrl(const SessionOptions& options);

}  // namespace tether::cp

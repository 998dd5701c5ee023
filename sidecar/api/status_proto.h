// The StatusBoard's view as tether.v1.Status, with a hint in plain words about the connection.
//
// Why apart from the service: the hints are the part of status an operator reads first when
// something is wrong, so they are plain functions, tested case by case without a server.
//
// Threading: pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "sidecar/status/connection.h"
#include "sidecar/status/status_board.h"
#include "tether/v1/status.pb.h"

namespace tether::api {

// What the status API needs beyond the board's view.
struct StatusContext {
  // The CP session's --ping-interval: "connected for a while" means two of them.
  absl::Duration ping_interval = absl::Seconds(30);
  // wss://host:port/v1/outlet?node_id=..., as the session dials it.
  std::string control_plane_url;
};

// Likely causes of the connection's current state, or empty when all looks well. Reads the
// state, the cause of the last failure and whether the connection carried a config; never the
// error's message.
std::string ConnectionHint(const status::ConnectionInfo& connection, absl::Duration ping_interval,
                           absl::Time now);

v1::Status ToProto(const status::StatusView& view, const StatusContext& context, absl::Time now);

}  // namespace tether::api

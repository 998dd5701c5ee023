// Conversions from tether's own types to the fields of the tether.v1 messages that more than one
// message carries (a snapshot's source, timestamps).
//
// Why: the config updates (update_builder) and the status (status_proto) both fill these, and
// must agree on them: one definition each.
//
// Threading: pure functions; thread-safe.
#pragma once

#include <google/protobuf/timestamp.pb.h>

#include "absl/time/time.h"
#include "sidecar/config/snapshot.h"
#include "tether/v1/config.pb.h"

namespace tether::api {

v1::Source ToProto(config::Source source);

// False for the infinite past and future, which tether uses for "never" / "not yet".
bool IsSet(absl::Time t);

// `t` must be set (IsSet).
void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out);

}  // namespace tether::api

// ConfigApplier: turns a config frame from the CP session into the current snapshot, or into a
// recorded rejection.
//
// Why here: it is the one place that knows both config/ (decode, store) and status/, so cp/
// stays free of config and config/ stays free of status. Bad input is handled where there is
// context (Abseil Tip #76): logged once, counted once, recorded in status once, and the last good
// snapshot stays current.
//
// Threading: Apply runs on the session's decode worker, one frame at a time; Refused runs on the
// session strand. Both only touch thread-safe collaborators.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "sidecar/config/decoder.h"
#include "sidecar/config/snapshot_store.h"
#include "sidecar/cp/session.h"
#include "sidecar/status/status_board.h"

namespace tether::app {

class ConfigApplier {
 public:
  ConfigApplier(config::DecodeLimits limits, config::SnapshotStore& store,
                status::StatusBoard& status)
      : limits_(limits), store_(store), status_(status) {}

  // Decodes and publishes `frame`. Returns the hash applied afterwards when the frame was applied
  // or carried the applied hash; nullopt when it was rejected or ignored.
  std::optional<std::string> Apply(cp::Frame frame);

  // Records a frame the session refused before decoding (over --cluster-max-payload).
  void Refused(const absl::Status& reason);

 private:
  const config::DecodeLimits limits_;
  config::SnapshotStore& store_;
  status::StatusBoard& status_;
};

}  // namespace tether::app

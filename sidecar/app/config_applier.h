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
#include "sidecar/app/config_cache.h"
#include "sidecar/config/decoder.h"
#include "sidecar/config/snapshot_store.h"
#include "sidecar/cp/session.h"
#include "sidecar/status/status_board.h"

namespace tether::app {

struct ApplierOptions {
  config::DecodeLimits limits;
  // --guard-empty-config.
  bool guard_empty_config = false;
};

class ConfigApplier {
 public:
  // `cache` may be null (no saving); it must outlive the applier otherwise.
  ConfigApplier(ApplierOptions options, config::SnapshotStore& store, status::StatusBoard& status,
                ConfigCache* cache)
      : options_(options), store_(store), status_(status), cache_(cache) {}

  // Decodes and publishes `frame`, then queues it for the disk cache. Returns the hash applied
  // afterwards when the frame was applied or carried the applied hash; nullopt when it was
  // rejected or ignored.
  std::optional<std::string> Apply(cp::Frame frame);

  // Records a frame the session refused before decoding (over --cluster-max-payload).
  void Refused(const absl::Status& reason);

 private:
  void Reject(std::string config_hash, status::RejectReason cause, std::string reason,
              size_t compressed_bytes);

  const ApplierOptions options_;
  config::SnapshotStore& store_;
  status::StatusBoard& status_;
  ConfigCache* const cache_;
};

}  // namespace tether::app

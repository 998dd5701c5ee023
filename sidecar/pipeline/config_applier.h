// ConfigApplier: the apply policy - turns a config frame into the current snapshot, or into a
// recorded rejection.
//
// Why here: it is the one place that knows both config/ (decode, store) and status/, so cp/
// stays free of config and config/ stays free of status. Bad input is handled where there is
// context (Abseil Tip #76): logged once, counted once (by its typed cause), recorded in status
// once, and the last good snapshot stays current. Publishing to the store is the one step that
// makes a config current, whoever publishes (this applier, or the app serving the disk cache):
// the applier keeps the status board following the store, so the two never disagree for long.
//
// Threading: Apply runs on the pipeline's worker, one frame at a time; Refused runs on the
// session strand. Both only touch thread-safe collaborators.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "sidecar/config/decoder.h"
#include "sidecar/config/snapshot_store.h"
#include "sidecar/pipeline/config_cache.h"
#include "sidecar/pipeline/pipeline.h"
#include "sidecar/status/status_board.h"

namespace tether::pipeline {

struct ApplierOptions {
  config::DecodeLimits limits;
  // --guard-empty-config.
  bool guard_empty_config = false;
};

class ConfigApplier {
 public:
  // `cache` may be null (no saving); it must outlive the applier otherwise. From here on, every
  // snapshot published to `store` is recorded as applied on `status`.
  ConfigApplier(ApplierOptions options, config::SnapshotStore& store, status::StatusBoard& status,
                ConfigCache* cache);

  // Decodes and publishes `frame`, then queues it for the disk cache. Returns the hash applied
  // afterwards when the frame was applied or carried the applied hash; nullopt when it was
  // rejected or ignored.
  std::optional<std::string> Apply(Frame frame);

  // Records a frame the session refused before decoding (over --cluster-max-payload).
  void Refused(const absl::Status& reason);

 private:
  void Reject(std::string config_hash, config::RejectCause cause, std::string reason,
              size_t compressed_bytes);

  const ApplierOptions options_;
  config::SnapshotStore& store_;
  status::StatusBoard& status_;
  ConfigCache* const cache_;
  config::SnapshotStore::Observers::Handle board_follows_store_;
};

}  // namespace tether::pipeline

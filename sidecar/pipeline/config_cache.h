// ConfigCache: tether's last-known-good config on disk, as the app uses it:
// loaded once at start-up (before the CP is reached), saved after every applied
// config without ever blocking the CP session or the applier.
//
// Why: Kong's data plane keeps serving its cached config while the CP is
// unreachable; tether does the same, and also refuses a cache it cannot trust
// (in a data dir others can write, torn, corrupt, undecodable, dated in the
// future or older than --max-cache-age) instead of serving it.
//
// Threading: Load is called once from App::Create; Save from the pipeline's
// worker; Stop from App::Stop. Writes run on the cache's own worker thread,
// latest wins; `on_write_failed` runs there.
#pragma once

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "sidecar/common/latest_wins_worker.h"
#include "sidecar/config/decoder.h"
#include "sidecar/config/disk_cache.h"
#include "sidecar/config/snapshot.h"

namespace tether::pipeline {

class ConfigCache {
 public:
  // Removes temp files that writes cut short by a crash left in `data_dir`.
  // `on_write_failed` (may be null) counts each config that could not be saved;
  // the warning is logged here.
  explicit ConfigCache(const std::string& data_dir, std::function<void()> on_write_failed = {});

  // The cached config decoded as a DISK_CACHE snapshot, or null when there is
  // none to serve: missing, in a data dir that is not private, written in the
  // future (beyond a little clock skew), older than `max_age` (zero: any age),
  // or unusable. An unusable file is moved aside with a warning; nothing here
  // is fatal.
  config::SnapshotPtr Load(const config::DecodeLimits& limits, absl::Duration max_age);

  // Queues `frame` (the compressed frame `snapshot` was decoded from) for
  // writing. A newer Save replaces one not yet written.
  void Save(const config::Snapshot& snapshot, std::string frame);

  // Waits for the queued write, then stops the writer. Idempotent.
  void Stop();

 private:
  void Write(config::CachedConfig config);
  void RemoveStaleTempFiles();

  const std::string data_dir_;
  const std::function<void()> on_write_failed_;
  config::DiskCache disk_;
  LatestWinsWorker<config::CachedConfig> writer_;
};

}  // namespace tether::pipeline

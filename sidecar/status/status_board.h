// StatusBoard: what tether knows about its control-plane connection and its config, in one place.
//
// Why: logs say what happened once; status says what is true now. The CP session reports its
// connection here, the config applier reports applies and rejections, and readers (status API,
// probes, tests) take a consistent copy and can wait for the next change.
//
// Threading: thread-safe. mu_ guards every field. Writers never block on readers: Wait* helpers
// hold the lock only while checking their condition.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sidecar/config/snapshot.h"
#include "sidecar/cp/session.h"

namespace tether::status {

struct Rejection {
  std::string config_hash;  // empty when the frame was too broken to read it
  std::string reason;
  absl::Time at;
};

struct ConfigRecord {
  config::SnapshotPtr current;  // null before the first config
  absl::Time applied_at = absl::InfinitePast();
  uint64_t applies = 0;     // configs that replaced the current one
  uint64_t same_hash = 0;   // frames whose hash matched the applied config
  uint64_t ignored = 0;     // well-formed messages of another type
  uint64_t rejections = 0;  // frames refused: corrupt, wrong shape, over a limit
  std::optional<Rejection> last_rejection;
};

struct StatusView {
  cp::ConnectionInfo connection;
  ConfigRecord config;
  uint64_t version = 0;  // increases on every change
};

class StatusBoard {
 public:
  void SetConnection(const cp::ConnectionInfo& info);
  void RecordApplied(config::SnapshotPtr snapshot, absl::Time at);
  void RecordSameHash();
  void RecordIgnored();
  void RecordRejection(Rejection rejection);

  StatusView Get() const;

  // Waits until `pred` holds for the current view or `timeout` passes; returns the last view
  // checked and whether `pred` held.
  std::pair<StatusView, bool> WaitFor(const std::function<bool(const StatusView&)>& pred,
                                      absl::Duration timeout) const;

 private:
  void ChangedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { ++view_.version; }

  mutable absl::Mutex mu_;
  StatusView view_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tether::status

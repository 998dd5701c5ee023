#include "sidecar/status/status_board.h"

#include <utility>

namespace tether::status {

void StatusBoard::SetConnection(const cp::ConnectionInfo& info) {
  absl::MutexLock lock(&mu_);
  view_.connection = info;
  ChangedLocked();
}

void StatusBoard::RecordApplied(config::SnapshotPtr snapshot, absl::Time at) {
  absl::MutexLock lock(&mu_);
  view_.config.current = std::move(snapshot);
  view_.config.applied_at = at;
  ++view_.config.applies;
  ChangedLocked();
}

void StatusBoard::RecordSameHash() {
  absl::MutexLock lock(&mu_);
  ++view_.config.same_hash;
  ChangedLocked();
}

void StatusBoard::RecordIgnored() {
  absl::MutexLock lock(&mu_);
  ++view_.config.ignored;
  ChangedLocked();
}

void StatusBoard::RecordRejection(Rejection rejection) {
  absl::MutexLock lock(&mu_);
  ++view_.config.rejections;
  view_.config.last_rejection = std::move(rejection);
  ChangedLocked();
}

StatusView StatusBoard::Get() const {
  absl::MutexLock lock(&mu_);
  return view_;
}

std::pair<StatusView, bool> StatusBoard::WaitFor(const std::function<bool(const StatusView&)>& pred,
                                                 absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  struct Args {
    const std::function<bool(const StatusView&)>* pred;
    const StatusView* view;
  } args{&pred, &view_};
  const bool held = mu_.AwaitWithTimeout(absl::Condition(
                                             +[](Args* a) { return (*a->pred)(*a->view); }, &args),
                                         timeout);
  return {view_, held};
}

}  // namespace tether::status

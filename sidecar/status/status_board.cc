#include "sidecar/status/status_board.h"

#include <utility>

namespace tether::status {

void StatusBoard::SetConnection(const cp::ConnectionInfo& info) {
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    view_.connection = info;
    version = ChangedLocked();
  }
  Notify(version);
}

void StatusBoard::RecordApplied(config::SnapshotPtr snapshot, absl::Time at) {
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    view_.config.current = std::move(snapshot);
    view_.config.applied_at = at;
    ++view_.config.applies;
    version = ChangedLocked();
  }
  Notify(version);
}

void StatusBoard::RecordSameHash() {
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    ++view_.config.same_hash;
    version = ChangedLocked();
  }
  Notify(version);
}

void StatusBoard::RecordIgnored() {
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    ++view_.config.ignored;
    version = ChangedLocked();
  }
  Notify(version);
}

void StatusBoard::RecordRejection(Rejection rejection) {
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    ++view_.config.rejections;
    view_.config.last_rejection = std::move(rejection);
    version = ChangedLocked();
  }
  Notify(version);
}

void StatusBoard::SetNode(NodeInfo node) {
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    view_.node = std::move(node);
    version = ChangedLocked();
  }
  Notify(version);
}

SubscriberId StatusBoard::AddSubscriber(SubscriberRecord record) {
  SubscriberId id;
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    id = next_subscriber_id_++;
    view_.subscribers.emplace(id, std::move(record));
    version = ChangedLocked();
  }
  Notify(version);
  return id;
}

void StatusBoard::RecordSent(SubscriberId id, const std::string& config_hash) {
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    auto it = view_.subscribers.find(id);
    if (it == view_.subscribers.end()) return;
    it->second.last_sent_hash = config_hash;
    ++it->second.updates_sent;
    version = ChangedLocked();
  }
  Notify(version);
}

void StatusBoard::RecordAck(SubscriberId id, const std::string& config_hash) {
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    auto it = view_.subscribers.find(id);
    if (it == view_.subscribers.end()) return;
    it->second.acked_hash = config_hash;
    it->second.nacked_hash.clear();
    it->second.nack_error.clear();
    version = ChangedLocked();
  }
  Notify(version);
}

void StatusBoard::RecordNack(SubscriberId id, const std::string& config_hash,
                             const std::string& error) {
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    auto it = view_.subscribers.find(id);
    if (it == view_.subscribers.end()) return;
    it->second.nacked_hash = config_hash;
    it->second.nack_error = error;
    version = ChangedLocked();
  }
  Notify(version);
}

void StatusBoard::RemoveSubscriber(SubscriberId id) {
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    if (view_.subscribers.erase(id) == 0) return;
    version = ChangedLocked();
  }
  Notify(version);
}

StatusView StatusBoard::Get() const {
  absl::MutexLock lock(&mu_);
  return view_;
}

uint64_t StatusBoard::version() const {
  absl::MutexLock lock(&mu_);
  return view_.version;
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

StatusBoard::ObserverId StatusBoard::AddObserver(Observer observer) {
  absl::MutexLock lock(&observers_mu_);
  const ObserverId id = next_observer_id_++;
  observers_.emplace(id, std::move(observer));
  return id;
}

void StatusBoard::RemoveObserver(ObserverId id) {
  // Taking observers_mu_ waits for a Notify in progress, which may be running this observer.
  absl::MutexLock lock(&observers_mu_);
  observers_.erase(id);
}

void StatusBoard::Notify(uint64_t version) {
  absl::MutexLock lock(&observers_mu_);
  for (const auto& [id, observer] : observers_) observer(version);
}

}  // namespace tether::status

#include "sidecar/status/status_board.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace tether::status {

template <typename Mutation>
void StatusBoard::Change(Mutation mutate) {
  uint64_t version;
  {
    MutexLock lock(&mu_);
    if (!mutate(view_)) return;
    version = ++view_.version;
  }
  Notify(version);
}

void StatusBoard::SetConnection(const cp::ConnectionInfo& info) {
  Change([&](StatusView& v) {
    // The session publishes each ended attempt or connection once as a move to kDisconnected
    // (later publishes in that state only update the retry time).
    if (info.state == cp::ConnectionState::kDisconnected &&
        v.connection.state != cp::ConnectionState::kDisconnected && !info.last_error.ok()) {
      ++v.totals.connection_failures[static_cast<size_t>(ClassifyConnectFailure(info.last_error))];
    }
    v.connection = info;
    return true;
  });
}

void StatusBoard::RecordApplied(config::SnapshotPtr snapshot, absl::Time at) {
  Change([&](StatusView& v) {
    v.config.current = std::move(snapshot);
    v.config.applied_at = at;
    ++v.config.applies;
    if (v.config.current != nullptr) {
      v.totals.decode_durations.Observe(v.config.current->decode_duration);
    }
    return true;
  });
}

void StatusBoard::RecordSameHash() {
  Change([](StatusView& v) {
    ++v.config.same_hash;
    return true;
  });
}

void StatusBoard::RecordIgnored() {
  Change([](StatusView& v) {
    ++v.config.ignored;
    return true;
  });
}

void StatusBoard::RecordRejection(Rejection rejection) {
  Change([&](StatusView& v) {
    ++v.config.rejections;
    ++v.totals.rejections[static_cast<size_t>(rejection.cause)];
    v.config.last_rejection = std::move(rejection);
    return true;
  });
}

void StatusBoard::SetNode(NodeInfo node) {
  Change([&](StatusView& v) {
    v.node = std::move(node);
    return true;
  });
}

void StatusBoard::SetDraining() {
  Change([](StatusView& v) {
    if (v.draining) return false;
    v.draining = true;
    return true;
  });
}

SubscriberId StatusBoard::AddSubscriber(SubscriberRecord record) {
  SubscriberId id = 0;
  Change([&](StatusView& v) {
    id = next_subscriber_id_++;
    v.subscribers.emplace(id, std::move(record));
    return true;
  });
  return id;
}

template <typename Mutation>
void StatusBoard::ChangeSubscriber(SubscriberId id, Mutation mutate) {
  Change([&](StatusView& v) {
    auto it = v.subscribers.find(id);
    if (it == v.subscribers.end()) return false;
    mutate(it->second);
    return true;
  });
}

void StatusBoard::RecordSent(SubscriberId id, const std::string& config_hash) {
  // Not ChangeSubscriber: the total outlives the subscriber, so it sits outside its record.
  Change([&](StatusView& v) {
    auto it = v.subscribers.find(id);
    if (it == v.subscribers.end()) return false;
    it->second.last_sent_hash = config_hash;
    ++it->second.updates_sent;
    ++v.totals.updates_sent;
    return true;
  });
}

void StatusBoard::RecordAck(SubscriberId id, const std::string& config_hash) {
  ChangeSubscriber(id, [&](SubscriberRecord& s) {
    s.acked_hash = config_hash;
    s.nacked_hash.clear();
    s.nack_error.clear();
  });
}

void StatusBoard::RecordNack(SubscriberId id, const std::string& config_hash,
                             const std::string& error) {
  ChangeSubscriber(id, [&](SubscriberRecord& s) {
    s.nacked_hash = config_hash;
    s.nack_error = error;
  });
}

void StatusBoard::RemoveSubscriber(SubscriberId id) {
  Change([&](StatusView& v) { return v.subscribers.erase(id) != 0; });
}

StatusView StatusBoard::Get() const {
  MutexLock lock(&mu_);
  return view_;
}

Readiness StatusBoard::GetReadiness() const {
  MutexLock lock(&mu_);
  return ReadinessOf(view_);
}

uint64_t StatusBoard::version() const {
  MutexLock lock(&mu_);
  return view_.version;
}

std::pair<StatusView, bool> StatusBoard::WaitFor(const std::function<bool(const StatusView&)>& pred,
                                                 absl::Duration timeout) const {
  MutexLock lock(&mu_);
  const bool held =
      mu_.AwaitWithTimeout([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return pred(view_); }, timeout);
  return {view_, held};
}

StatusBoard::ObserverId StatusBoard::AddObserver(Observer observer) {
  MutexLock lock(&observers_mu_);
  const ObserverId id = next_observer_id_++;
  observers_.emplace(id, std::move(observer));
  return id;
}

void StatusBoard::RemoveObserver(ObserverId id) {
  // Taking observers_mu_ waits for a Notify in progress, which may be running this observer.
  MutexLock lock(&observers_mu_);
  observers_.erase(id);
}

void StatusBoard::Notify(uint64_t version) {
  MutexLock lock(&observers_mu_);
  for (const auto& [id, observer] : observers_) observer(version);
}

Readiness ReadinessOf(const StatusView& view) {
  if (view.draining) return {false, "draining: tether is shutting down"};
  if (view.config.current != nullptr) return {true, "serving config"};
  const cp::ConnectionInfo& c = view.connection;
  std::string reason =
      absl::StrCat("no config yet: ", cp::ConnectionStateName(c.state), " ", c.address);
  if (c.state == cp::ConnectionState::kConnected) {
    absl::StrAppend(&reason, ", waiting for the first config");
  } else if (!c.last_error.ok()) {
    absl::StrAppend(&reason, " (last error: ", c.last_error.message(), ")");
  }
  return {false, std::move(reason)};
}

}  // namespace tether::status

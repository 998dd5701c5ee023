#include "sidecar/status/status_board.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
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
  observers_.Notify(version);
}

void StatusBoard::SetConnection(const ConnectionInfo& info) {
  Change([&](StatusView& v) {
    // The session publishes each ended attempt or connection once as a move to kDisconnected
    // (later publishes in that state only update the retry time).
    if (info.state == ConnectionState::kDisconnected &&
        v.connection.state != ConnectionState::kDisconnected &&
        info.last_cause != FailureCause::kNone) {
      ++v.totals.connection_failures[static_cast<size_t>(info.last_cause)];
    }
    v.connection = info;
    return true;
  });
}

void StatusBoard::RecordApplied(config::SnapshotPtr snapshot, absl::Time at) {
  Change([&](StatusView& v) {
    v.config.current = std::move(snapshot);
    v.config.applied_at = at;
    if (v.config.current != nullptr) {
      v.config.recent_hashes.push_back(v.config.current->config_hash);
      if (v.config.recent_hashes.size() > ConfigRecord::kRecentHashes) {
        v.config.recent_hashes.pop_front();
      }
    }
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

void StatusBoard::RecordCacheWriteFailure() {
  Change([](StatusView& v) {
    ++v.totals.cache_write_failures;
    return true;
  });
}

void StatusBoard::RecordConfigFileWrite(bool ok) {
  Change([ok](StatusView& v) {
    ++(ok ? v.totals.config_file_writes : v.totals.config_file_write_failures);
    return true;
  });
}

void StatusBoard::RecordHookRun(HookOutcome outcome) {
  Change([outcome](StatusView& v) {
    ++v.totals.hook_runs[static_cast<size_t>(outcome)];
    return true;
  });
}

void StatusBoard::RecordUpdateCacheEvictions(uint64_t evictions) {
  Change([&](StatusView& v) {
    v.totals.update_cache_evictions += evictions;
    return evictions > 0;
  });
}

void StatusBoard::RecordSubscriberRefused() {
  Change([](StatusView& v) {
    ++v.totals.subscribers_refused;
    return true;
  });
}

void StatusBoard::RecordGrpcPeerRefused(PeerRefusal reason) {
  Change([reason](StatusView& v) {
    ++v.totals.grpc_peers_refused[static_cast<size_t>(reason)];
    return true;
  });
}

void StatusBoard::SetReportedHash(std::string hash, std::string because) {
  Change([&](StatusView& v) {
    if (v.config.reported_hash == hash && v.config.reported_because == because) return false;
    v.config.reported_hash = std::move(hash);
    v.config.reported_because = std::move(because);
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

void StatusBoard::RecordFailure(std::string failure) {
  Change([&](StatusView& v) {
    if (!v.failure.empty()) return false;
    v.failure = std::move(failure);
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
    mutate(it->second, v.totals);
    return true;
  });
}

void StatusBoard::RecordSent(SubscriberId id, const std::string& config_hash) {
  ChangeSubscriber(id, [&](SubscriberRecord& s, Totals& totals) {
    s.last_sent_hash = config_hash;
    ++s.updates_sent;
    ++totals.updates_sent;
  });
}

void StatusBoard::RecordAck(SubscriberId id, const std::string& config_hash) {
  ChangeSubscriber(id, [&](SubscriberRecord& s, Totals&) {
    s.acked_hash = config_hash;
    s.nacked_hash.clear();
    s.nack_error.clear();
  });
}

void StatusBoard::RecordNack(SubscriberId id, const std::string& config_hash,
                             const std::string& error) {
  ChangeSubscriber(id, [&](SubscriberRecord& s, Totals& totals) {
    s.nacked_hash = config_hash;
    s.nack_error = error;
    ++totals.nacks;
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

uint64_t StatusBoard::UpdatesSent() const {
  MutexLock lock(&mu_);
  return view_.totals.updates_sent;
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

std::optional<std::string> AckedHash(const StatusView& view) {
  if (view.subscribers.empty()) {
    if (view.config.current == nullptr) return std::nullopt;
    return view.config.current->config_hash;
  }
  const std::deque<std::string>& order = view.config.recent_hashes;
  std::optional<std::string> oldest;
  ptrdiff_t oldest_at = PTRDIFF_MAX;
  for (const auto& [id, s] : view.subscribers) {
    if (s.acked_hash.empty()) continue;
    const auto it = std::find(order.rbegin(), order.rend(), s.acked_hash);
    const ptrdiff_t at = it == order.rend() ? -1 : std::distance(it, order.rend()) - 1;
    if (at < oldest_at) {
      oldest_at = at;
      oldest = s.acked_hash;
    }
  }
  return oldest;
}

Readiness ReadinessOf(const StatusView& view) {
  if (!view.failure.empty()) return {false, view.failure};
  if (view.draining) return {false, "draining: tether is shutting down"};
  // The session never stops by itself: this is the moment between a part failing and the drain
  // that follows (the process then exits non-zero), or a test that stopped it.
  if (view.connection.state == ConnectionState::kStopped) {
    return {false, "control plane session stopped"};
  }
  if (view.config.current != nullptr) return {true, "serving config"};
  const ConnectionInfo& c = view.connection;
  std::string reason =
      absl::StrCat("no config yet: ", ConnectionStateName(c.state), " ", c.address);
  if (c.state == ConnectionState::kConnected) {
    absl::StrAppend(&reason, ", waiting for the first config");
  } else if (!c.last_error.ok()) {
    absl::StrAppend(&reason, " (last error: ", c.last_error.message(), ")");
  }
  return {false, std::move(reason)};
}

}  // namespace tether::status

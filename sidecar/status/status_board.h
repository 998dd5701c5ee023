// StatusBoard: what tether knows about its control-plane connection, its config, its node and its
// gRPC subscribers, in one place.
//
// Why: logs say what happened once; status says what is true now. The CP session reports its
// connection here, the config applier reports applies and rejections, the config API reports
// subscribers (joined, sent, acked, nacked, left), and readers (status API, probes, tests) take a
// consistent copy, wait for the next change, or are told about it.
//
// Threading: thread-safe. mu_ guards view_ and next_subscriber_id_ (tether::Mutex, which TSan
// sees, unlike Debian's uninstrumented absl::Mutex). Writers never block on readers: Wait*
// helpers hold mu_ only while checking their condition. Observers run after every change on the
// writer's thread, outside mu_ (common/observer_list.h): they only note that something changed
// and leave the work (copying the view, converting it) to their own thread, as the status API
// does, so that a writer - the CP strand on every pong, the decode worker, a gRPC reaction -
// never waits for a conversion.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "sidecar/common/mutex.h"
#include "sidecar/common/observer_list.h"
#include "sidecar/config/snapshot.h"
#include "sidecar/status/connection.h"
#include "sidecar/status/totals.h"

namespace tether::status {

struct Rejection {
  std::string config_hash;  // empty when the frame was too broken to read it
  std::string reason;
  absl::Time at;
  config::RejectCause cause = config::RejectCause::kOther;
};

struct ConfigRecord {
  config::SnapshotPtr current;  // null before the first config
  absl::Time applied_at = absl::InfinitePast();
  uint64_t applies = 0;     // configs that replaced the current one
  uint64_t same_hash = 0;   // frames whose hash matched the applied config
  uint64_t ignored = 0;     // well-formed messages of another type
  uint64_t rejections = 0;  // frames refused: corrupt, wrong shape, over a limit
  std::optional<Rejection> last_rejection;
  // The hashes of the last configs made current, oldest first (at most kRecentHashes): the order
  // in which "newest" is judged for --report-hash=acked.
  std::deque<std::string> recent_hashes;
  static constexpr size_t kRecentHashes = 32;
  // The hash the pings carry, and why ("applied" or "acked by every subscriber").
  std::string reported_hash;
  std::string reported_because;
};

// The node tether presents to the CP; set once during wiring.
struct NodeInfo {
  std::string node_id;
  std::string hostname;
  std::string version;  // the Kong version advertised
  std::map<std::string, std::string> labels;
  std::string tether_version;
};

// How a subscriber receives updates after its first (mirrors tether.v1.Mode).
enum class SubscriberMode { kFull, kDelta };

// One Watch stream that has subscribed.
struct SubscriberRecord {
  std::string client_id;
  std::string peer;                       // the gRPC peer, e.g. "unix:/run/tether/tether.sock"
  std::vector<std::string> entity_types;  // empty means every type
  SubscriberMode mode = SubscriberMode::kFull;
  absl::Time connected_since = absl::InfinitePast();
  std::string last_sent_hash;  // the last update fully written to the stream
  uint64_t updates_sent = 0;
  std::string acked_hash;
  // The last nack, cleared by a later ack.
  std::string nacked_hash;
  std::string nack_error;
};

using SubscriberId = uint64_t;

struct StatusView {
  ConnectionInfo connection;
  ConfigRecord config;
  NodeInfo node;
  // By id, which increases with each subscribe: iteration order is join order.
  std::map<SubscriberId, SubscriberRecord> subscribers;
  // Set once shutdown begins: proxies are told to stop relying on tether before it goes.
  bool draining = false;
  // Set when a long-running part ended by itself ("config pipeline failed: ..."): tether is about
  // to drain and exit non-zero.
  std::string failure;
  // Counters by cause and the decode-time distribution, for /metrics.
  Totals totals;
  uint64_t version = 0;  // increases on every change
};

// Whether tether is ready to serve its proxies, and why (or why not) in one line for probes,
// gRPC health and logs. One definition so that /readyz, health and status never disagree.
struct Readiness {
  bool ready = false;
  std::string reason;
};
Readiness ReadinessOf(const StatusView& view);

// --report-hash=acked: the newest config hash every connected subscriber has ACKed, judged by
// the order configs were applied (a subscriber's ack of a hash older than the recent ones counts
// as the oldest); the current config's hash when no subscriber is connected; nullopt while
// connected subscribers have acked nothing yet (the hash reported before stays).
std::optional<std::string> AckedHash(const StatusView& view);

class StatusBoard {
 public:
  // Called with the view's new version after every change.
  using Observers = ObserverList<uint64_t>;

  StatusBoard() = default;
  StatusBoard(const StatusBoard&) = delete;
  StatusBoard& operator=(const StatusBoard&) = delete;

  void SetConnection(const ConnectionInfo& info);
  void RecordApplied(config::SnapshotPtr snapshot, absl::Time at);
  void RecordSameHash();
  void RecordIgnored();
  void RecordRejection(Rejection rejection);
  void RecordCacheWriteFailure();
  void RecordUpdateCacheEvictions(uint64_t evictions);
  void RecordSubscriberRefused();
  // --write-config and --on-change-exec (export/exporter.h).
  void RecordConfigFileWrite(bool ok);
  void RecordHookRun(HookOutcome outcome);
  void RecordGrpcPeerRefused(PeerRefusal reason);
  void SetReportedHash(std::string hash, std::string because);
  void SetNode(NodeInfo node);
  // Idempotent.
  void SetDraining();
  // Keeps the first failure.
  void RecordFailure(std::string failure);

  // Subscribers. The Record*/Remove calls ignore an id that is not (or no longer) present.
  SubscriberId AddSubscriber(SubscriberRecord record);
  void RecordSent(SubscriberId id, const std::string& config_hash);
  void RecordAck(SubscriberId id, const std::string& config_hash);
  void RecordNack(SubscriberId id, const std::string& config_hash, const std::string& error);
  void RemoveSubscriber(SubscriberId id);

  StatusView Get() const;
  // ReadinessOf(Get()) without copying the view.
  Readiness GetReadiness() const;
  // Get().totals.updates_sent without copying the view.
  uint64_t UpdatesSent() const;
  uint64_t version() const;

  // Waits until `pred` holds for the current view or `timeout` passes; returns the last view
  // checked and whether `pred` held.
  std::pair<StatusView, bool> WaitFor(const std::function<bool(const StatusView&)>& pred,
                                      absl::Duration timeout) const;

  // Calls `observer` after every later change (see Threading) until the handle is dropped. An
  // observer may call Get() and version(), but must not write to the board.
  [[nodiscard]] Observers::Handle AddObserver(Observers::Callback observer) {
    return observers_.Add(std::move(observer));
  }

 private:
  // Runs `mutate(view_)` under mu_; when it returns true (something changed), bumps the version
  // and notifies the observers after releasing mu_.
  template <typename Mutation>
  void Change(Mutation mutate) ABSL_LOCKS_EXCLUDED(mu_);
  // Change() on one subscriber's record (and the totals, which outlive it); nothing happens when
  // `id` is not present.
  template <typename Mutation>
  void ChangeSubscriber(SubscriberId id, Mutation mutate);

  mutable Mutex mu_;
  StatusView view_ ABSL_GUARDED_BY(mu_);
  SubscriberId next_subscriber_id_ ABSL_GUARDED_BY(mu_) = 1;
  Observers observers_;
};

}  // namespace tether::status

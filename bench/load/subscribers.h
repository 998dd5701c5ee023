// SubscriberPool: N real subscribers of tether's Watch API, as N proxies on one host would be,
// each with its own channel (its own connection) and its own stream.
//
// Why not client::ConfigWatcher: each watcher owns a thread and assembles a mirror, so 1000 of
// them would measure the load tool. These share one completion queue served by two threads, and
// each keeps only what the measurement needs (which update it completed, and when). They still
// behave like a proxy towards tether: they subscribe, read every chunk and ack every update.
//
// Why a completion queue rather than gRPC's callback API: with gRPC 1.51 on Linux (epoll1) the
// callback API's reactions run on a shared queue whose two "nexting" threads wait at most 1 s for
// an event and then sleep 100 ms without polling. An update tether wrote while both slept sat
// unread in the socket for up to 100 ms, which tether-load reported as tether's push latency
// (about one push in ten with 1 or 10 subscribers). The threads here block in Next() and never
// stop polling.
//
// Threading: thread-safe. Completions are handled on the pool's threads and take mu_ only
// briefly. The destructor cancels every stream and returns once all have ended.
#pragma once

#include <grpcpp/completion_queue.h>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "bench/load/process.h"
#include "sidecar/common/mutex.h"
#include "tether/v1/config.pb.h"

namespace tether::bench {

class SubscriberPool {
 public:
  // `target` is a gRPC target such as "unix:///run/tether/tether.sock".
  explicit SubscriberPool(std::string target);
  ~SubscriberPool();

  SubscriberPool(const SubscriberPool&) = delete;
  SubscriberPool& operator=(const SubscriberPool&) = delete;

  // Opens `count` more streams subscribed to every entity type in `mode`. A non-empty
  // `resume_hash` names the config they already hold, so tether sends them nothing until the
  // next change (in DELTA mode, a delta from it).
  void Add(size_t count, v1::Mode mode, const std::string& resume_hash);
  size_t size() const;

  // Waits until every subscriber has received the whole update that brings it to `config_hash`
  // (its last chunk), and returns when the last of them did. Unavailable if a stream ended
  // first, DeadlineExceeded after `timeout`.
  absl::StatusOr<SteadyTime> AwaitAll(const std::string& config_hash, absl::Duration timeout);
  // When the first subscriber received the whole update to `config_hash`, if one has.
  std::optional<SteadyTime> FirstArrival(const std::string& config_hash) const;

  class Subscriber;

 private:
  struct Arrivals {
    size_t count = 0;
    SteadyTime first;
    SteadyTime last;
  };

  // Reactions report here.
  void Received(const std::string& config_hash, SteadyTime when);
  void Ended(const std::string& error);

  // A pool thread: handles completions until the queue is shut down and drained.
  void Serve();

  const std::string target_;
  // Every stream's operations complete here. Declared before subscribers_, so that their
  // streams are destroyed first, and drained by the destructor before either goes.
  grpc::CompletionQueue cq_;
  mutable Mutex mu_;
  // config_hash -> subscribers that completed that update. Only Received() writes this.
  std::map<std::string, Arrivals> arrivals_ ABSL_GUARDED_BY(mu_);
  size_t ended_ ABSL_GUARDED_BY(mu_) = 0;
  // Set by the destructor: streams ending from then on were cancelled, not failed.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  // Owned here and destroyed only after their streams ended (the destructor waits for it).
  std::vector<std::unique_ptr<Subscriber>> subscribers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;  // last: they start once the rest is initialised
};

}  // namespace tether::bench

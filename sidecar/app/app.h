// App: owns tether's executors, threads and components, and starts and stops them in order.
// Wiring only: no protocol or config logic lives here.
//
// Order: Create builds everything and starts the gRPC API and the ops listener (gRPC binds and
// starts in one step, and a listener that cannot be bound must fail start-up before any CP
// connection; until the first config it answers NOT_SERVING and subscribers wait). Start then
// starts the CP session. Stop runs STYLE.md's order: readiness and gRPC health say draining,
// subscribers are served for --drain-time, then gRPC shutdown (streams end with UNAVAILABLE),
// the CP close frame, the threads, and the ops listener last (probes answer "draining" to the
// end).
//
// Fail loudly (consul-dataplane's rule): the CP session and the config pipeline run for as long
// as the process does. If one ends by itself (a bug), the App logs why, marks status (readiness
// false: "<part> failed") and calls on_part_failed; main then drains and exits non-zero, so that
// Kubernetes restarts the pod instead of it limping on with a stale config and a green probe.
//
// Threading: Create, Start and Stop are called from main's thread (or a test's). The CP session
// runs on the app's I/O thread, the pipeline and the ops listener on their own; store(),
// status(), grpc(), ops() and failed() are thread-safe; the callbacks run on the thread of the
// part that calls them and must return quickly.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sidecar/api/server.h"
#include "sidecar/common/heap_trimmer.h"
#include "sidecar/config/snapshot_store.h"
#include "sidecar/cp/session.h"
#include "sidecar/export/exporter.h"
#include "sidecar/ops/server.h"
#include "sidecar/pipeline/acked_hash_reporter.h"
#include "sidecar/pipeline/config_applier.h"
#include "sidecar/pipeline/config_cache.h"
#include "sidecar/pipeline/pipeline.h"
#include "sidecar/settings/settings.h"
#include "sidecar/status/status_board.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace tether::app {

struct AppCallbacks {
  // POST /shutdown, once, on the ops thread (main turns it into its SIGTERM path).
  std::function<void()> on_shutdown_request;
  // A long-running part ended by itself (see Fail loudly), once.
  std::function<void()> on_part_failed;
};

class App {
 public:
  // Builds every component from validated settings; only the listeners run yet.
  static absl::StatusOr<std::unique_ptr<App>> Create(const settings::Settings& settings,
                                                     AppCallbacks callbacks = {});
  ~App();

  // Starts the I/O thread and the CP session; returns once they run.
  void Start();
  // Turns readiness and gRPC health to draining, serves subscribers for --drain-time (within
  // `timeout`), shuts the gRPC API down (half of what is left at most), then closes the CP
  // session (empty close frame), stops the threads and the ops listener. Idempotent (the drain
  // happens once). Returns false when `timeout` passed first.
  bool Stop(absl::Duration timeout);

  // True once a long-running part ended by itself: the process must exit non-zero.
  bool failed() const { return failed_.load(); }

  config::SnapshotStore& store() { return store_; }
  status::StatusBoard& status() { return status_; }
  api::Server& grpc() { return *grpc_; }
  ops::Server& ops() { return *ops_; }

  // Runs `task` on the CP I/O thread, e.g. to block it and watch /livez fail.
  void PostToIoForTest(std::function<void()> task);
  cp::Session& session_for_test() { return *session_; }

 private:
  explicit App(size_t snapshot_history_bytes, AppCallbacks callbacks);
  // A long-running part ended by itself: recorded in status and reported once.
  void Fail(absl::string_view part, const absl::Status& why);

  const AppCallbacks callbacks_;
  std::atomic<bool> failed_{false};
  config::SnapshotStore store_;
  status::StatusBoard status_;
  std::unique_ptr<pipeline::ConfigCache> cache_;
  std::unique_ptr<pipeline::ConfigApplier> applier_;
  // Poked by the pipeline after each frame, and whenever a subscriber has been sent a whole
  // update (the serialised update is then freed); declared before both, so it outlives them.
  HeapTrimmer heap_trimmer_;
  std::atomic<uint64_t> updates_sent_seen_{0};
  status::StatusBoard::Observers::Handle trim_on_sent_;
  // --write-config / --on-change-exec only; follows store_ and reports to status_.
  std::unique_ptr<exporter::Exporter> exporter_;
  std::unique_ptr<boost::asio::io_context> io_;
  // Decodes on its own thread; hands applied hashes to session_, which is set before any frame
  // can arrive (Start) and stopped before the pipeline.
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::unique_ptr<cp::Session> session_;
  // --report-hash=acked only; after session_, so it stops reporting to it first.
  std::unique_ptr<pipeline::AckedHashReporter> acked_reporter_;
  std::thread io_thread_;
  // Last, so it is destroyed first: it reads store_ and status_.
  std::unique_ptr<api::Server> grpc_;
  // After grpc_, so it goes even earlier: it reads status_ and posts heartbeats to io_ and the
  // pipeline.
  std::unique_ptr<ops::Server> ops_;
  absl::Duration drain_time_;
  bool drained_ = false;  // main's thread only
};

}  // namespace tether::app

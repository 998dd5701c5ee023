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
// Threading: Create, Start and Stop are called from main's thread (or a test's). The CP session
// runs on the app's I/O thread, the ops listener on its own; store(), status(), grpc() and ops()
// are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sidecar/api/server.h"
#include "sidecar/app/config_applier.h"
#include "sidecar/app/config_cache.h"
#include "sidecar/config/snapshot_store.h"
#include "sidecar/ops/server.h"
#include "sidecar/ops/worker_heartbeat.h"
#include "sidecar/settings/settings.h"
#include "sidecar/status/status_board.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace tether::app {

class App {
 public:
  // Builds every component from validated settings; only the listeners run yet. POST /shutdown
  // calls `on_shutdown_request` once, on the ops thread (main turns it into its SIGTERM path).
  static absl::StatusOr<std::unique_ptr<App>> Create(
      const settings::Settings& settings, std::function<void()> on_shutdown_request = nullptr);
  ~App();

  // Starts the I/O thread and the CP session; returns once they run.
  void Start();
  // Turns readiness and gRPC health to draining, serves subscribers for --drain-time (within
  // `timeout`), shuts the gRPC API down (half of what is left at most), then closes the CP
  // session (empty close frame), stops the threads and the ops listener. Idempotent (the drain
  // happens once). Returns false when `timeout` passed first.
  bool Stop(absl::Duration timeout);

  config::SnapshotStore& store() { return store_; }
  status::StatusBoard& status() { return status_; }
  api::Server& grpc() { return *grpc_; }
  ops::Server& ops() { return *ops_; }

  // Runs `task` on the CP I/O thread, e.g. to block it and watch /livez fail.
  void PostToIoForTest(std::function<void()> task);

 private:
  explicit App(size_t snapshot_history_bytes);

  config::SnapshotStore store_;
  status::StatusBoard status_;
  std::unique_ptr<ConfigCache> cache_;
  std::unique_ptr<ConfigApplier> applier_;
  std::unique_ptr<boost::asio::io_context> io_;
  // Marks the decode worker busy around each frame, for /livez. Outlives session_, whose worker
  // uses it.
  ops::WorkerHeartbeat decoder_heartbeat_;
  std::unique_ptr<cp::Session> session_;
  std::thread io_thread_;
  // Last, so it is destroyed first: it reads store_ and status_.
  std::unique_ptr<api::Server> grpc_;
  // After grpc_, so it goes even earlier: it reads status_ and posts heartbeats to io_ and
  // decoder_heartbeat_.
  std::unique_ptr<ops::Server> ops_;
  absl::Duration drain_time_;
  bool drained_ = false;  // main's thread only
};

}  // namespace tether::app

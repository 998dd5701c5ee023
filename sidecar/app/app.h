// App: owns tether's executors, threads and components, and starts and stops them in order.
// Wiring only: no protocol or config logic lives here.
//
// Order: Create builds everything and starts the gRPC API (gRPC binds and starts in one step, and
// a listener that cannot be bound must fail start-up before any CP connection; until the first
// config it answers NOT_SERVING and subscribers wait). Start then starts the CP session. Stop
// runs STYLE.md's order: gRPC shutdown first (streams end with UNAVAILABLE), then the CP close
// frame and the threads.
//
// Threading: Create, Start and Stop are called from main's thread (or a test's). The CP session
// runs on the app's I/O thread; store(), status() and grpc() are thread-safe.
#pragma once

#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sidecar/api/server.h"
#include "sidecar/app/config_applier.h"
#include "sidecar/config/snapshot_store.h"
#include "sidecar/settings/settings.h"
#include "sidecar/status/status_board.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace tether::app {

class App {
 public:
  // Builds every component from validated settings; nothing runs yet.
  static absl::StatusOr<std::unique_ptr<App>> Create(const settings::Settings& settings);
  ~App();

  // Starts the I/O thread and the CP session; returns once they run.
  void Start();
  // Shuts the gRPC API down (half of `timeout` at most), then closes the CP session (empty close
  // frame) and stops the threads. Idempotent. Returns false when `timeout` passed first.
  bool Stop(absl::Duration timeout);

  config::SnapshotStore& store() { return store_; }
  status::StatusBoard& status() { return status_; }
  api::Server& grpc() { return *grpc_; }

 private:
  App();

  config::SnapshotStore store_;
  status::StatusBoard status_;
  std::unique_ptr<ConfigApplier> applier_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<cp::Session> session_;
  std::thread io_thread_;
  // Last, so it is destroyed first: it reads store_ and status_.
  std::unique_ptr<api::Server> grpc_;
};

}  // namespace tether::app

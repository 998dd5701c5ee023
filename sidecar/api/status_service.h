// StatusService: tether.v1.StatusService. GetStatus answers with the StatusBoard's current view;
// WatchStatus sends it at once and then after every change.
//
// Why coalesced (after gRPC's health WatchReactor): each stream has one write in flight; changes
// that arrive meanwhile replace the pending status, so a burst of changes (a reconnect, many
// subscribers acking) costs a slow reader one message with the latest state, never a queue.
//
// Fan-out like the config's: the board observer only marks the status dirty (a latest-wins
// submit, skipped when no stream is open and readiness is unchanged); the service's own worker then
// copies the view once, tells `on_readiness` (gRPC health) and converts it once for every stream. A
// burst of changes - every pong, every subscriber's ack
// - costs one conversion per batch, on this worker, never on the thread that changed the board.
//
// Lifecycle: constructed and registered by api::Server; it observes the board from construction
// to destruction. BeginShutdown ends every stream with UNAVAILABLE "tether is shutting down" and
// finishes new ones at once.
//
// Threading: thread-safe. The observer runs on whichever thread changed the board; the worker on
// its own thread; reactions on gRPC threads. mu_ guards watchers_ and shutting_down_ and is held
// only to copy or change them; each stream has its own mutex.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>

#include "sidecar/api/status_proto.h"
#include "sidecar/common/latest_wins_worker.h"
#include "sidecar/common/mutex.h"
#include "sidecar/status/status_board.h"
#include "tether/v1/status.grpc.pb.h"

namespace tether::api {

class StatusService final : public v1::StatusService::CallbackService {
 public:
  // `board` must outlive the service. `on_readiness` (may be null) is told the readiness after
  // every batch of changes, on the service's worker.
  StatusService(status::StatusBoard& board, StatusContext context,
                std::function<void(const status::Readiness&)> on_readiness = nullptr);
  // Stops observing the board and the worker; the gRPC server must have shut down.
  ~StatusService() override;

  StatusService(const StatusService&) = delete;
  StatusService& operator=(const StatusService&) = delete;

  // Idempotent; any thread.
  void BeginShutdown();

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const v1::GetStatusRequest* request,
                                      v1::Status* response) override;
  grpc::ServerWriteReactor<v1::Status>* WatchStatus(grpc::CallbackServerContext* context,
                                                    const v1::WatchStatusRequest* request) override;

  class WatchReactor;
  // A converted status and the board version it reflects; shared by every stream.
  struct Versioned {
    uint64_t version = 0;
    v1::Status status;
  };

 private:
  std::shared_ptr<const Versioned> Convert(const status::StatusView& view) const;
  // The board observer, on the thread that changed it: wakes the worker when a stream or the
  // readiness needs it.
  void OnBoardChanged(uint64_t version);
  // The worker: one batch of board changes.
  void Publish();
  void Unregister(WatchReactor* watcher);

  status::StatusBoard& board_;
  const StatusContext context_;
  const std::function<void(const status::Readiness&)> on_readiness_;
  Mutex mu_;
  std::set<WatchReactor*> watchers_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // What the worker last told on_readiness_; none before its first batch.
  std::optional<status::Readiness> published_readiness_ ABSL_GUARDED_BY(mu_);
  // The submitted value is only a wake-up: the batch reads the board's current view.
  LatestWinsWorker<uint64_t> worker_;
  // Last, so it is dropped first: the observer submits to worker_.
  status::StatusBoard::Observers::Handle observer_;
};

}  // namespace tether::api

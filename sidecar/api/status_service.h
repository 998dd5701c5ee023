// StatusService: tether.v1.StatusService. GetStatus answers with the StatusBoard's current view;
// WatchStatus sends it at once and then after every change.
//
// Why coalesced (after gRPC's health WatchReactor): each stream has one write in flight; changes
// that arrive meanwhile replace the pending status, so a burst of changes (a reconnect, many
// subscribers acking) costs a slow reader one message with the latest state, never a queue.
//
// Lifecycle: constructed and registered by api::Server; it observes the board from construction
// to destruction. BeginShutdown ends every stream with UNAVAILABLE "tether is shutting down" and
// finishes new ones at once.
//
// Threading: thread-safe. The board observer runs on whichever thread changed the board and
// converts the view once per change (for all streams); reactions run on gRPC threads. mu_ guards
// watchers_ and shutting_down_; each stream has its own mutex, taken after mu_.
#pragma once

#include <memory>
#include <set>

#include "sidecar/api/status_proto.h"
#include "sidecar/common/mutex.h"
#include "sidecar/status/status_board.h"
#include "tether/v1/status.grpc.pb.h"

namespace tether::api {

class StatusService final : public v1::StatusService::CallbackService {
 public:
  // `board` must outlive the service.
  StatusService(status::StatusBoard& board, StatusContext context);
  // Stops observing the board; the gRPC server must have shut down.
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
  std::shared_ptr<const Versioned> Current() const;
  void OnBoardChanged();
  void Unregister(WatchReactor* watcher);

  status::StatusBoard& board_;
  const StatusContext context_;
  status::StatusBoard::ObserverId observer_id_ = 0;

  Mutex mu_;
  std::set<WatchReactor*> watchers_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tether::api

#include "sidecar/api/status_service.h"

#include <utility>

#include "absl/time/clock.h"

namespace tether::api {
namespace {

constexpr char kShuttingDown[] = "tether is shutting down";

}  // namespace

// One WatchStatus stream: one write in flight, the newest pending status replaces older ones.
//
// Threading: thread-safe. mu_ guards every field. Send runs on the service's worker (under the
// service's mu_, which keeps the stream registered), reactions on gRPC threads. Owned by gRPC:
// deleted in OnDone, after the service has unregistered it under its mu_, so Send never meets a
// deleted stream.
class StatusService::WatchReactor final : public grpc::ServerWriteReactor<v1::Status> {
 public:
  explicit WatchReactor(StatusService* service) : service_(service) {}

  // Writes `status` now, or keeps it as the pending one when a write is in flight. Statuses no
  // newer than the last one taken are ignored (observer calls may arrive out of order).
  void Send(std::shared_ptr<const Versioned> status) {
    MutexLock lock(&mu_);
    if (finished_ || status->version <= newest_version_) return;
    newest_version_ = status->version;
    if (in_flight_ != nullptr) {
      pending_ = std::move(status);
      return;
    }
    WriteLocked(std::move(status));
  }

  void FinishNow(grpc::Status status) {
    MutexLock lock(&mu_);
    FinishLocked(std::move(status));
  }

  void OnWriteDone(bool ok) override {
    MutexLock lock(&mu_);
    in_flight_ = nullptr;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    if (finished_ || pending_ == nullptr) return;
    WriteLocked(std::move(pending_));
    pending_ = nullptr;
  }

  void OnCancel() override { FinishNow(grpc::Status::CANCELLED); }

  void OnDone() override {
    service_->Unregister(this);
    delete this;
  }

 private:
  void WriteLocked(std::shared_ptr<const Versioned> status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    in_flight_ = std::move(status);
    StartWrite(&in_flight_->status);
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(std::move(status));
  }

  StatusService* const service_;
  Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t newest_version_ ABSL_GUARDED_BY(mu_) = 0;
  // Kept until OnWriteDone: gRPC reads the message until then.
  std::shared_ptr<const Versioned> in_flight_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Versioned> pending_ ABSL_GUARDED_BY(mu_);
};

StatusService::StatusService(status::StatusBoard& board, StatusContext context,
                             std::function<void(const status::Readiness&)> on_readiness)
    : board_(board),
      context_(std::move(context)),
      on_readiness_(std::move(on_readiness)),
      worker_([this](uint64_t) { Publish(); }),
      observer_(board_.AddObserver([this](uint64_t version) { OnBoardChanged(version); })) {}

StatusService::~StatusService() {
  observer_.Reset();
  worker_.Stop();
}

std::shared_ptr<const StatusService::Versioned> StatusService::Convert(
    const status::StatusView& view) const {
  auto versioned = std::make_shared<Versioned>();
  versioned->version = view.version;
  versioned->status = ToProto(view, context_, absl::Now());
  return versioned;
}

void StatusService::OnBoardChanged(uint64_t version) {
  // Every subscriber's ACK changes the board. With no WatchStatus stream only readiness matters,
  // and an ACK does not change it: waking the worker anyway costs a thread switch per ACK
  // (BENCHMARKS.md, the small preset with 1000 subscribers). Readiness is read after the change,
  // so the writer of the newest change always compares the newest readiness.
  const status::Readiness readiness = board_.GetReadiness();
  {
    MutexLock lock(&mu_);
    if (watchers_.empty() && published_readiness_.has_value() &&
        published_readiness_->ready == readiness.ready &&
        published_readiness_->reason == readiness.reason) {
      return;
    }
  }
  worker_.Submit(version);
}

void StatusService::Publish() {
  const status::Readiness readiness = board_.GetReadiness();
  if (on_readiness_) on_readiness_(readiness);
  {
    MutexLock lock(&mu_);
    published_readiness_ = readiness;
    if (watchers_.empty()) return;
  }
  // Converted once per batch, outside mu_, and shared by every stream.
  std::shared_ptr<const Versioned> status = Convert(board_.Get());
  MutexLock lock(&mu_);
  for (WatchReactor* watcher : watchers_) watcher->Send(status);
}

void StatusService::Unregister(WatchReactor* watcher) {
  MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

void StatusService::BeginShutdown() {
  MutexLock lock(&mu_);
  shutting_down_ = true;
  for (WatchReactor* watcher : watchers_) {
    watcher->FinishNow(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
  }
}

grpc::ServerUnaryReactor* StatusService::GetStatus(grpc::CallbackServerContext* context,
                                                   const v1::GetStatusRequest* /*request*/,
                                                   v1::Status* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  *response = ToProto(board_.Get(), context_, absl::Now());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<v1::Status>* StatusService::WatchStatus(
    grpc::CallbackServerContext* /*context*/, const v1::WatchStatusRequest* /*request*/) {
  auto* reactor = new WatchReactor(this);
  {
    MutexLock lock(&mu_);
    // Registered even when refused, so OnDone's Unregister has one rule.
    watchers_.insert(reactor);
    if (shutting_down_) {
      reactor->FinishNow(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
      return reactor;
    }
  }
  // The current status at once. A change racing with this is sent by Publish; whichever is
  // older is dropped by the version check.
  reactor->Send(Convert(board_.Get()));
  return reactor;
}

}  // namespace tether::api

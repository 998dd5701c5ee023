#include "sidecar/api/watch_reactor.h"

#include <exception>
#include <utility>

#include "absl/time/clock.h"
#include "sidecar/api/request_validation.h"
#include "sidecar/common/log.h"

namespace tether::api {
namespace {

constexpr absl::string_view kLog = "api";

}  // namespace

void WatchReactor::Start(const absl::Status& admitted) {
  if (!admitted.ok()) {
    MutexLock lock(&mu_);
    FinishLocked(ToGrpcStatus(admitted));
    return;
  }
  StartRead(&request_);
}

void WatchReactor::FinishForShutdown() {
  MutexLock lock(&mu_);
  FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
}

bool WatchReactor::Initialise() {
  MutexLock lock(&mu_);
  return cursor_.Initialise(fanout_->store());
}

bool WatchReactor::Offer(const config::SnapshotPtr& target) {
  MutexLock lock(&mu_);
  return cursor_.Offer(target);
}

std::optional<SubscriberCursor::Plan> WatchReactor::TakePending() {
  MutexLock lock(&mu_);
  return cursor_.TakePending();
}

void WatchReactor::StartUpdate(config::SnapshotPtr target, UpdatePtr update) {
  MutexLock lock(&mu_);
  if (cursor_.StartUpdate(std::move(target), std::move(update))) WriteChunkLocked();
}

void WatchReactor::FinishInternal(absl::string_view what) {
  MutexLock lock(&mu_);
  FinishLocked(grpc::Status(grpc::StatusCode::INTERNAL, std::string(what)));
}

void WatchReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The client half-closed (or went away, which OnCancel handles). It can no longer ack, so
    // the stream ends, as go-control-plane's server does on EOF; tether's client library
    // half-closes after a nack, once the nack is written, and relies on this.
    MutexLock lock(&mu_);
    FinishLocked(cursor_.subscribed()
                     ? grpc::Status::OK
                     : grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, kSubscribeFirst));
    return;
  }
  grpc::Status error;
  try {
    v1::WatchRequest request;
    const bool parsed = ParseRequest(request_, request);
    request_.Clear();
    error = parsed ? Handle(request)
                   : grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "cannot parse the request as tether.v1.WatchRequest");
  } catch (const std::exception& e) {
    // Only allocation can throw here; the stream cannot go on consistently.
    log::Error(kLog, "cannot handle request", {{"peer", peer_}, {"err", e.what()}});
    error = grpc::Status(grpc::StatusCode::INTERNAL, "cannot handle the request");
  }
  MutexLock lock(&mu_);
  if (!error.ok()) {
    FinishLocked(error);
    return;
  }
  if (!cursor_.closed()) StartRead(&request_);
}

void WatchReactor::OnWriteDone(bool ok) {
  std::string sent_hash;
  bool build_next = false;
  {
    MutexLock lock(&mu_);
    chunk_ = nullptr;
    if (!ok) {
      // The stream is broken (client gone, or finishing); no more writes will succeed.
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    if (cursor_.closed()) return;
    switch (cursor_.ChunkWritten()) {
      case SubscriberCursor::Next::kWriteChunk:
        WriteChunkLocked();
        return;
      case SubscriberCursor::Next::kBuild:
        build_next = true;
        break;
      case SubscriberCursor::Next::kIdle:
        break;
    }
    sent_hash = cursor_.sent()->config_hash;
  }
  fanout_->status().RecordSent(id_, sent_hash);
  if (build_next) {
    fanout_->Post([fanout = fanout_, self = shared_from_this()] { fanout->BuildFor(self); });
  }
}

void WatchReactor::OnCancel() {
  MutexLock lock(&mu_);
  FinishLocked(grpc::Status::CANCELLED);
}

void WatchReactor::OnDone() {
  bool subscribed;
  uint64_t updates_sent;
  std::string acked_hash;
  {
    MutexLock lock(&mu_);
    subscribed = cursor_.subscribed();
    updates_sent = cursor_.updates_sent();
    acked_hash = cursor_.acked_hash();
  }
  if (subscribed) {
    fanout_->status().RemoveSubscriber(id_);
    log::Info(kLog, "subscriber left",
              {{"client_id", client_id_},
               {"peer", peer_},
               {"updates_sent", updates_sent},
               {"acked_hash", acked_hash.empty() ? "none" : acked_hash}});
  }
  // May destroy this reactor: nothing after this line touches it.
  fanout_->Unregister(this);
}

grpc::Status WatchReactor::Handle(const v1::WatchRequest& request) {
  bool subscribed;
  {
    MutexLock lock(&mu_);
    subscribed = cursor_.subscribed();
  }
  if (absl::Status order = CheckWatchRequestOrder(request, subscribed); !order.ok()) {
    return ToGrpcStatus(order);
  }
  switch (request.request_case()) {
    case v1::WatchRequest::kSubscribe:
      return Subscribe(request.subscribe());
    case v1::WatchRequest::kAck: {
      const std::string hash = Truncated(request.ack().config_hash(), kMaxHashBytes);
      {
        MutexLock lock(&mu_);
        cursor_.Ack(hash);
      }
      fanout_->status().RecordAck(id_, hash);
      log::Debug(kLog, "subscriber acked", {{"client_id", client_id_}, {"config_hash", hash}});
      break;
    }
    case v1::WatchRequest::kNack: {
      const std::string hash = Truncated(request.nack().config_hash(), kMaxHashBytes);
      const std::string error = Truncated(request.nack().error(), kMaxNackErrorBytes);
      {
        MutexLock lock(&mu_);
        cursor_.Nack(hash);
      }
      fanout_->status().RecordNack(id_, hash, error);
      if (uint64_t suppressed = 0; nack_log_.Allow(absl::Now(), suppressed)) {
        log::Warn(kLog, "subscriber refused an update",
                  {{"client_id", client_id_},
                   {"config_hash", hash},
                   {"err", error},
                   {"nacks_not_logged", suppressed}});
      }
      break;
    }
    case v1::WatchRequest::REQUEST_NOT_SET:
      break;  // refused by CheckWatchRequestOrder
  }
  return grpc::Status::OK;
}

grpc::Status WatchReactor::Subscribe(const v1::Subscribe& subscribe) {
  absl::StatusOr<Subscription> subscription = ParseSubscribe(subscribe);
  if (!subscription.ok()) return ToGrpcStatus(subscription.status());
  status::SubscriberRecord record;
  record.client_id = subscription->client_id;
  record.peer = peer_;
  record.entity_types.assign(subscription->filter.types().begin(),
                             subscription->filter.types().end());
  record.mode = subscription->mode == UpdateMode::kDelta ? status::SubscriberMode::kDelta
                                                         : status::SubscriberMode::kFull;
  record.connected_since = absl::Now();
  // Set before any write can start (the worker reads them only after the Post below), and
  // never changed afterwards: the read path and OnDone read them without mu_.
  client_id_ = subscription->client_id;
  id_ = fanout_->status().AddSubscriber(std::move(record));
  {
    MutexLock lock(&mu_);
    cursor_.Subscribe(*subscription);
  }
  log::Info(
      kLog, "subscriber joined",
      {{"client_id", client_id_},
       {"peer", peer_},
       {"types", TypesForLog(subscription->filter)},
       {"mode", subscription->mode == UpdateMode::kDelta ? "delta" : "full"},
       {"resume_hash", subscription->resume_hash.empty() ? "none" : subscription->resume_hash}});
  fanout_->Post([fanout = fanout_, self = shared_from_this()] {
    if (self->Initialise()) fanout->BuildFor(self);
  });
  return grpc::Status::OK;
}

void WatchReactor::WriteChunkLocked() {
  chunk_ = cursor_.TakeChunk();
  StartWrite(chunk_.get());
}

void WatchReactor::FinishLocked(grpc::Status status) {
  if (cursor_.Close()) Finish(std::move(status));
}

}  // namespace tether::api

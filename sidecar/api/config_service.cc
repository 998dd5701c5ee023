#include "sidecar/api/config_service.h"

#include <utility>

#include "sidecar/api/config_fanout.h"
#include "sidecar/api/request_validation.h"
#include "sidecar/api/watch_reactor.h"
#include "sidecar/common/mutex.h"

namespace tether::api {
namespace {

// One GetConfig call: a full update, then OK.
//
// Threading: thread-safe. mu_ guards every field below it. Start runs on the fan-out worker,
// reactions on gRPC threads.
class GetConfigReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer>, public Stream {
 public:
  explicit GetConfigReactor(ConfigFanout* fanout) : fanout_(fanout) {}

  void FinishNow(grpc::Status status) {
    MutexLock lock(&mu_);
    FinishLocked(std::move(status));
  }

  void FinishForShutdown() override {
    FinishNow(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
  }

  // Worker: starts writing the update (null when it could not be built).
  void Start(UpdatePtr update) {
    MutexLock lock(&mu_);
    if (finished_) return;
    if (update == nullptr || update->chunks.empty()) {
      FinishLocked(grpc::Status(grpc::StatusCode::INTERNAL, "built an empty update"));
      return;
    }
    reader_ = ChunkReader(std::move(update));
    chunk_ = reader_.Take(0);
    StartWrite(chunk_.get());
  }

  void OnWriteDone(bool ok) override {
    MutexLock lock(&mu_);
    chunk_ = nullptr;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    if (finished_) return;
    if (++next_chunk_ < reader_.update()->chunks.size()) {
      chunk_ = reader_.Take(next_chunk_);
      StartWrite(chunk_.get());
      return;
    }
    FinishLocked(grpc::Status::OK);
  }

  void OnCancel() override { FinishNow(grpc::Status::CANCELLED); }

  // May destroy this reactor: nothing after this line touches it.
  void OnDone() override { fanout_->Unregister(this); }

 private:
  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    // Other streams sending the same update need not keep its chunks for this one any more.
    reader_ = ChunkReader();
    Finish(std::move(status));
  }

  ConfigFanout* const fanout_;
  Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  ChunkReader reader_ ABSL_GUARDED_BY(mu_);
  size_t next_chunk_ ABSL_GUARDED_BY(mu_) = 0;
  ChunkPtr chunk_ ABSL_GUARDED_BY(mu_);  // the chunk being written
};

}  // namespace

ConfigService::ConfigService(config::SnapshotStore& store, status::StatusBoard& status,
                             ConfigServiceOptions options)
    : fanout_(std::make_unique<ConfigFanout>(store, status, options.max_chunk_bytes,
                                             options.update_cache_bytes, options.max_subscribers)),
      peer_names_(options.peer_names),
      // The only registration with the store. A snapshot published before this service existed
      // is sent on subscribe (Initialise reads the store), so nothing is missed.
      publish_observer_(store.AddObserver(
          [fanout = fanout_.get()](const config::SnapshotPtr&) { fanout->OnPublish(); })) {}

ConfigService::~ConfigService() {
  publish_observer_.Reset();
  Stop();
}

void ConfigService::BeginShutdown() { fanout_->BeginShutdown(); }

void ConfigService::Stop() {
  fanout_->BeginShutdown();
  fanout_->Stop();
}

UpdateCache::Stats ConfigService::StatsForTest() const { return fanout_->Stats(); }

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ConfigService::Watch(
    grpc::CallbackServerContext* context) {
  auto reactor = std::make_shared<WatchReactor>(
      fanout_.get(),
      peer_names_ == nullptr ? context->peer() : peer_names_->Describe(context->peer()));
  reactor->Start(fanout_->Register(reactor, reactor));
  return reactor.get();
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ConfigService::GetConfig(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  auto reactor = std::make_shared<GetConfigReactor>(fanout_.get());
  if (!fanout_->Register(reactor, nullptr).ok()) {
    reactor->FinishForShutdown();
    return reactor.get();
  }
  v1::GetConfigRequest parsed;
  grpc::ByteBuffer copy(*request);  // shares the slices; the reader needs a mutable buffer
  if (!ParseRequest(copy, parsed)) {
    reactor->FinishNow(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                    "cannot parse the request as tether.v1.GetConfigRequest"));
    return reactor.get();
  }
  absl::StatusOr<config::TypeFilter> filter = ParseTypeFilter(parsed.entity_types());
  if (!filter.ok()) {
    reactor->FinishNow(ToGrpcStatus(filter.status()));
    return reactor.get();
  }
  config::SnapshotPtr current = fanout_->store().Current();
  if (current == nullptr) {
    reactor->FinishNow(
        grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                     "no config yet: tether has not received one from the control plane"));
    return reactor.get();
  }
  fanout_->Post([fanout = fanout_.get(), reactor, current = std::move(current),
                 filter = *std::move(filter)] {
    // One-shot: shared with identical requests while this one sends it, then gone, so
    // that many distinct filters cost no more than the requests in flight.
    absl::StatusOr<UpdatePtr> update =
        fanout->GetUpdate(nullptr, current, filter, UpdateMode::kFull, UpdateCache::Keep::kShare);
    reactor->Start(update.ok() ? *std::move(update) : nullptr);
  });
  return reactor.get();
}

}  // namespace tether::api

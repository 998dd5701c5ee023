#include "sidecar/api/config_service.h"

#include <grpcpp/support/proto_buffer_reader.h>

#include <exception>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "sidecar/common/log.h"
#include "sidecar/common/mutex.h"

namespace tether::api {
namespace {

constexpr absl::string_view kLog = "api";
constexpr char kShuttingDown[] = "tether is shutting down";
// Longer names are no Kong entity type; the cap keeps filter keys and status small.
constexpr size_t kMaxTypeNameBytes = 64;
constexpr int kMaxEntityTypes = 256;

grpc::Status InvalidArgument(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

// Parses a request without copying it into a string first.
bool ParseRequest(grpc::ByteBuffer& buffer, google::protobuf::Message& message) {
  grpc::ProtoBufferReader reader(&buffer);
  return reader.status().ok() && message.ParseFromZeroCopyStream(&reader);
}

// Entity type names as Kong spells them (`routes`, `ca_certificates`, `key-sets` in some
// versions). The restriction also keeps ',' and '|' out of UpdateCache keys.
bool IsValidTypeName(absl::string_view type) {
  if (type.empty() || type.size() > kMaxTypeNameBytes) return false;
  for (char c : type) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

// Empty means every type.
absl::StatusOr<config::TypeFilter> ParseFilter(
    const google::protobuf::RepeatedPtrField<std::string>& types) {
  if (types.size() > kMaxEntityTypes) {
    return absl::InvalidArgumentError(
        absl::StrCat("entity_types lists ", types.size(), " types, at most ", kMaxEntityTypes));
  }
  std::set<std::string, std::less<>> set;
  for (const std::string& type : types) {
    if (!IsValidTypeName(type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("entity type \"", absl::CHexEscape(type.substr(0, kMaxTypeNameBytes)),
                       "\" must be 1 to 64 letters, digits, _, - or ."));
    }
    set.insert(type);
  }
  return config::TypeFilter(std::move(set));
}

std::string TypesForLog(const config::TypeFilter& filter) {
  return filter.all() ? std::string("*") : absl::StrJoin(filter.types(), ",");
}

}  // namespace

// A stream the fan-out keeps alive until gRPC is done with it (OnDone).
class Stream {
 public:
  virtual ~Stream() = default;
  // Finishes with UNAVAILABLE "tether is shutting down" unless already finished.
  virtual void FinishForShutdown() = 0;
};

class WatchReactor;
class GetConfigReactor;

// The service's shared core: the registry of streams, the fan-out worker thread and its cache.
//
// Threading: thread-safe. mu_ guards streams_, tasks_, dirty_, shutting_down_ and stopping_.
// cache_ is touched only by the worker thread (Run and the tasks it runs).
class ConfigService::Fanout {
 public:
  using Task = std::function<void()>;

  Fanout(config::SnapshotStore& store, status::StatusBoard& status, size_t max_chunk_bytes)
      : store_(store), status_(status), cache_(max_chunk_bytes), worker_([this] { Run(); }) {}
  ~Fanout() { Stop(); }

  config::SnapshotStore& store() { return store_; }
  status::StatusBoard& status() { return status_; }

  // Store observer, on the decode thread: only flags the worker, so publishing never waits for
  // subscribers.
  void OnPublish() {
    MutexLock lock(&mu_);
    dirty_ = true;
  }

  // Keeps `stream` alive until Unregister; `watch` is the same object when it is a Watch stream
  // (which snapshots are offered to), else null. False when shutting down: the caller finishes
  // the stream at once.
  bool Register(std::shared_ptr<Stream> stream, std::shared_ptr<WatchReactor> watch) {
    MutexLock lock(&mu_);
    Stream* key = stream.get();
    streams_.emplace(key, Registered{std::move(stream), std::move(watch)});
    return !shutting_down_;
  }

  // From OnDone. The stream may be destroyed by this call, outside mu_.
  void Unregister(Stream* stream) {
    std::shared_ptr<Stream> last;
    MutexLock lock(&mu_);
    auto it = streams_.find(stream);
    if (it == streams_.end()) return;
    last = std::move(it->second.stream);
    streams_.erase(it);
    // `last` is released after the lock (declared before it).
  }

  // Runs `task` on the worker; dropped once stopping.
  void Post(Task task) {
    MutexLock lock(&mu_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }

  void BeginShutdown() {
    std::vector<std::shared_ptr<Stream>> streams;
    {
      MutexLock lock(&mu_);
      shutting_down_ = true;
      for (auto& [key, registered] : streams_) streams.push_back(registered.stream);
    }
    for (const auto& stream : streams) stream->FinishForShutdown();
  }

  void Stop() {
    {
      MutexLock lock(&mu_);
      shutting_down_ = true;
      stopping_ = true;
    }
    if (worker_.joinable()) worker_.join();
    std::vector<Task> dropped;
    MutexLock lock(&mu_);
    dropped.swap(tasks_);
  }

  // Worker thread only: the update for (base, target, filter, mode) from the cache.
  UpdatePtr GetUpdate(const config::SnapshotPtr& base, const config::Snapshot& target,
                      const config::TypeFilter& filter, UpdateMode mode) {
    UpdatePtr update = cache_.Get(base, target, filter, mode);
    MutexLock lock(&mu_);
    stats_ = cache_.stats();
    return update;
  }
  void BuildFor(const std::shared_ptr<WatchReactor>& watch);

  UpdateCache::Stats Stats() const {
    MutexLock lock(&mu_);
    return stats_;
  }

 private:
  struct Registered {
    std::shared_ptr<Stream> stream;
    std::shared_ptr<WatchReactor> watch;  // null for GetConfig streams
  };

  void Run();

  config::SnapshotStore& store_;
  status::StatusBoard& status_;

  mutable Mutex mu_;
  std::map<Stream*, Registered> streams_ ABSL_GUARDED_BY(mu_);
  // Bounded: a stream posts at most one task per event it owns (its subscribe, the end of each
  // update it sends, its GetConfig), and each waits for the worker before the next.
  std::vector<Task> tasks_ ABSL_GUARDED_BY(mu_);
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  UpdateCache::Stats stats_ ABSL_GUARDED_BY(mu_);  // a copy of cache_'s, for tests

  UpdateCache cache_;   // worker thread only
  std::thread worker_;  // last: starts after every other member is ready
};

// One Watch stream.
//
// Threading: thread-safe. mu_ guards every field below it except request_, which only the read
// path touches (one read in flight, reactions for it never overlap). Reactions run on gRPC
// threads; Initialise, Offer, TakePending and StartUpdate run on the fan-out worker.
class WatchReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                           public Stream,
                           public std::enable_shared_from_this<WatchReactor> {
 public:
  // What the worker needs to build the next update.
  struct Plan {
    config::SnapshotPtr base;  // null: a full update
    config::SnapshotPtr target;
    config::TypeFilter filter;
    UpdateMode mode;
  };

  WatchReactor(ConfigService::Fanout* fanout, std::string peer)
      : fanout_(fanout), peer_(std::move(peer)) {}

  // Starts reading, or finishes at once when the service is shutting down.
  void Start(bool accepted) {
    if (!accepted) {
      MutexLock lock(&mu_);
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
      return;
    }
    StartRead(&request_);
  }

  void FinishForShutdown() override {
    MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
  }

  // Worker: applies the subscribe rules against `current` (null before any config). Returns true
  // when an update must be built now.
  bool Initialise(const config::SnapshotPtr& current) {
    MutexLock lock(&mu_);
    if (finished_) return false;
    initialised_ = true;
    if (current == nullptr) return false;  // the first publish will Offer it
    if (!resume_hash_.empty() && resume_hash_ == current->config_hash) {
      // The client holds exactly this: nothing to send until the next change, from which deltas
      // (and FULL-mode change checks) start.
      sent_ = current;
      return false;
    }
    if (mode_ == UpdateMode::kDelta && !resume_hash_.empty()) {
      sent_ = fanout_->store().Find(resume_hash_);  // null when no longer held: full update
    }
    pending_ = current;
    return in_flight_ == nullptr;
  }

  // Worker: a newer snapshot. Returns true when an update must be built now (nothing in flight).
  bool Offer(const config::SnapshotPtr& target) {
    MutexLock lock(&mu_);
    if (finished_ || !initialised_) return false;
    // The newest thing this stream already has or is getting.
    const config::SnapshotPtr& goal =
        pending_ != nullptr ? pending_ : (in_flight_ != nullptr ? in_flight_target_ : sent_);
    if (goal != nullptr && goal->config_hash == target->config_hash) return false;
    pending_ = target;  // replaces an older pending target: latest wins
    return in_flight_ == nullptr;
  }

  // Worker: takes the pending target when nothing is in flight.
  std::optional<Plan> TakePending() {
    MutexLock lock(&mu_);
    if (finished_ || in_flight_ != nullptr || pending_ == nullptr) return std::nullopt;
    Plan plan{sent_, std::move(pending_), filter_, mode_};
    pending_ = nullptr;
    return plan;
  }

  // Worker: starts sending `update` (null: nothing the filter covers changed; the stream keeps
  // its base, so a later delta still starts from what the client holds).
  void StartUpdate(config::SnapshotPtr target, UpdatePtr update) {
    MutexLock lock(&mu_);
    if (finished_ || update == nullptr || update->chunks.empty()) return;
    in_flight_ = std::move(update);
    in_flight_target_ = std::move(target);
    next_chunk_ = 0;
    StartWrite(&in_flight_->chunks[0]);
  }

  // Worker: the build failed (a bug or out of memory); the stream cannot continue consistently.
  void FinishInternal(absl::string_view what) {
    MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::INTERNAL, std::string(what)));
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client half-closed (or went away, which OnCancel handles). It can no longer ack, so
      // the stream ends, as go-control-plane's server does on EOF; tether's client library
      // half-closes after a nack, once the nack is written, and relies on this.
      MutexLock lock(&mu_);
      FinishLocked(subscribed_ ? grpc::Status::OK
                               : InvalidArgument("the first request must be subscribe"));
      return;
    }
    grpc::Status error;
    try {
      v1::WatchRequest request;
      const bool parsed = ParseRequest(request_, request);
      request_.Clear();
      error = parsed ? Handle(request)
                     : InvalidArgument("cannot parse the request as tether.v1.WatchRequest");
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
    if (!finished_) StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::string sent_hash;
    bool build_next = false;
    {
      MutexLock lock(&mu_);
      if (!ok) {
        // The stream is broken (client gone, or finishing); no more writes will succeed.
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
        return;
      }
      if (finished_) return;
      if (++next_chunk_ < in_flight_->chunks.size()) {
        StartWrite(&in_flight_->chunks[next_chunk_]);
        return;
      }
      sent_ = std::move(in_flight_target_);
      in_flight_target_ = nullptr;
      in_flight_ = nullptr;
      ++updates_sent_;
      sent_hash = sent_->config_hash;
      build_next = pending_ != nullptr;
    }
    fanout_->status().RecordSent(id_, sent_hash);
    if (build_next) {
      fanout_->Post([fanout = fanout_, self = shared_from_this()] { fanout->BuildFor(self); });
    }
  }

  void OnCancel() override {
    MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    bool subscribed;
    uint64_t updates_sent;
    {
      MutexLock lock(&mu_);
      subscribed = subscribed_;
      updates_sent = updates_sent_;
    }
    if (subscribed) {
      fanout_->status().RemoveSubscriber(id_);
      log::Info(kLog, "subscriber left",
                {{"client_id", client_id_}, {"peer", peer_}, {"updates_sent", updates_sent}});
    }
    // May destroy this reactor: nothing after this line touches it.
    fanout_->Unregister(this);
  }

 private:
  // Read path only (no read is in flight while it runs). Returns the status to finish with, or
  // OK to carry on.
  grpc::Status Handle(const v1::WatchRequest& request) {
    switch (request.request_case()) {
      case v1::WatchRequest::kSubscribe:
        return Subscribe(request.subscribe());
      case v1::WatchRequest::kAck:
        if (!subscribed_unlocked_) return InvalidArgument("the first request must be subscribe");
        fanout_->status().RecordAck(id_, request.ack().config_hash());
        log::Debug(kLog, "subscriber acked",
                   {{"client_id", client_id_}, {"config_hash", request.ack().config_hash()}});
        return grpc::Status::OK;
      case v1::WatchRequest::kNack:
        if (!subscribed_unlocked_) return InvalidArgument("the first request must be subscribe");
        fanout_->status().RecordNack(id_, request.nack().config_hash(), request.nack().error());
        log::Warn(kLog, "subscriber refused an update",
                  {{"client_id", client_id_},
                   {"config_hash", request.nack().config_hash()},
                   {"err", request.nack().error()}});
        return grpc::Status::OK;
      case v1::WatchRequest::REQUEST_NOT_SET:
        break;
    }
    return InvalidArgument(subscribed_unlocked_ ? "empty request: set subscribe, ack or nack"
                                                : "the first request must be subscribe");
  }

  grpc::Status Subscribe(const v1::Subscribe& subscribe) {
    if (subscribed_unlocked_) return InvalidArgument("subscribe may be sent only once per stream");
    absl::StatusOr<config::TypeFilter> filter = ParseFilter(subscribe.entity_types());
    if (!filter.ok()) return InvalidArgument(std::string(filter.status().message()));
    UpdateMode mode;
    switch (subscribe.mode()) {
      case v1::FULL:
        mode = UpdateMode::kFull;
        break;
      case v1::DELTA:
        mode = UpdateMode::kDelta;
        break;
      default:
        return InvalidArgument(absl::StrCat("unknown mode ", subscribe.mode()));
    }
    status::SubscriberRecord record;
    record.client_id = subscribe.client_id();
    record.peer = peer_;
    record.entity_types.assign(filter->types().begin(), filter->types().end());
    record.mode =
        mode == UpdateMode::kDelta ? status::SubscriberMode::kDelta : status::SubscriberMode::kFull;
    record.connected_since = absl::Now();
    // Set before any write can start (the worker reads them only after the Post below), and
    // never changed afterwards: the read path and OnDone read them without mu_.
    client_id_ = subscribe.client_id();
    id_ = fanout_->status().AddSubscriber(std::move(record));
    subscribed_unlocked_ = true;
    {
      MutexLock lock(&mu_);
      subscribed_ = true;
      filter_ = *filter;
      mode_ = mode;
      resume_hash_ = subscribe.resume_hash();
    }
    log::Info(
        kLog, "subscriber joined",
        {{"client_id", client_id_},
         {"peer", peer_},
         {"types", TypesForLog(*filter)},
         {"mode", mode == UpdateMode::kDelta ? "delta" : "full"},
         {"resume_hash", subscribe.resume_hash().empty() ? "none" : subscribe.resume_hash()}});
    fanout_->Post([fanout = fanout_, self = shared_from_this()] {
      if (self->Initialise(fanout->store().Current())) fanout->BuildFor(self);
    });
    return grpc::Status::OK;
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(std::move(status));
  }

  ConfigService::Fanout* const fanout_;
  const std::string peer_;
  grpc::ByteBuffer request_;  // read path only

  // Written once by Subscribe (read path) before the worker learns of the stream; read by the
  // read path, the write path and OnDone, which come after.
  bool subscribed_unlocked_ = false;
  std::string client_id_;
  status::SubscriberId id_ = 0;

  Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  bool initialised_ ABSL_GUARDED_BY(mu_) = false;
  config::TypeFilter filter_ ABSL_GUARDED_BY(mu_);
  UpdateMode mode_ ABSL_GUARDED_BY(mu_) = UpdateMode::kFull;
  std::string resume_hash_ ABSL_GUARDED_BY(mu_);
  // The snapshot the client holds: the last one fully sent (or resumed from). Deltas start here.
  config::SnapshotPtr sent_ ABSL_GUARDED_BY(mu_);
  // The newest snapshot not yet started; replaced by newer ones (latest wins).
  config::SnapshotPtr pending_ ABSL_GUARDED_BY(mu_);
  // The update being written, chunk by chunk, and the snapshot it brings the client to.
  UpdatePtr in_flight_ ABSL_GUARDED_BY(mu_);
  config::SnapshotPtr in_flight_target_ ABSL_GUARDED_BY(mu_);
  size_t next_chunk_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t updates_sent_ ABSL_GUARDED_BY(mu_) = 0;
};

// One GetConfig call: a full update, then OK.
//
// Threading: thread-safe. mu_ guards every field below it. Start runs on the fan-out worker,
// reactions on gRPC threads.
class GetConfigReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer>, public Stream {
 public:
  explicit GetConfigReactor(ConfigService::Fanout* fanout) : fanout_(fanout) {}

  void FinishNow(grpc::Status status) {
    MutexLock lock(&mu_);
    FinishLocked(std::move(status));
  }

  void FinishForShutdown() override {
    FinishNow(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
  }

  // Worker: starts writing the update.
  void Start(UpdatePtr update) {
    MutexLock lock(&mu_);
    if (finished_) return;
    if (update == nullptr || update->chunks.empty()) {
      FinishLocked(grpc::Status(grpc::StatusCode::INTERNAL, "built an empty update"));
      return;
    }
    update_ = std::move(update);
    StartWrite(&update_->chunks[0]);
  }

  void OnWriteDone(bool ok) override {
    MutexLock lock(&mu_);
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      return;
    }
    if (finished_) return;
    if (++next_chunk_ < update_->chunks.size()) {
      StartWrite(&update_->chunks[next_chunk_]);
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
    Finish(std::move(status));
  }

  ConfigService::Fanout* const fanout_;
  Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  UpdatePtr update_ ABSL_GUARDED_BY(mu_);
  size_t next_chunk_ ABSL_GUARDED_BY(mu_) = 0;
};

void ConfigService::Fanout::BuildFor(const std::shared_ptr<WatchReactor>& watch) {
  std::optional<WatchReactor::Plan> plan = watch->TakePending();
  if (!plan) return;
  UpdatePtr update;
  try {
    update = GetUpdate(plan->base, *plan->target, plan->filter, plan->mode);
  } catch (const std::exception& e) {
    log::Error(kLog, "cannot build update",
               {{"config_hash", plan->target->config_hash}, {"err", e.what()}});
    watch->FinishInternal("cannot build the update");
    return;
  }
  watch->StartUpdate(std::move(plan->target), std::move(update));
}

void ConfigService::Fanout::Run() {
  while (true) {
    std::vector<Task> tasks;
    std::vector<std::shared_ptr<WatchReactor>> watches;
    bool dirty;
    {
      MutexLock lock(&mu_);
      mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return stopping_ || dirty_ || !tasks_.empty();
      });
      if (stopping_) return;
      dirty = std::exchange(dirty_, false);
      tasks.swap(tasks_);
      if (dirty) {
        for (auto& [key, registered] : streams_) {
          if (registered.watch != nullptr) watches.push_back(registered.watch);
        }
      }
    }
    if (dirty) {
      // Always the store's newest: snapshots published while the worker was busy are skipped.
      if (config::SnapshotPtr latest = store_.Current()) {
        cache_.Retain(latest->config_hash);
        for (const auto& watch : watches) {
          if (watch->Offer(latest)) BuildFor(watch);
        }
      }
    }
    for (Task& task : tasks) task();
  }
}

ConfigService::ConfigService(config::SnapshotStore& store, status::StatusBoard& status,
                             ConfigServiceOptions options)
    : fanout_(std::make_unique<Fanout>(store, status, options.max_chunk_bytes)),
      // A snapshot published before this service existed is sent on subscribe (Initialise reads
      // the store), so nothing is missed.
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
  auto reactor = std::make_shared<WatchReactor>(fanout_.get(), context->peer());
  const bool accepted = fanout_->Register(reactor, reactor);
  reactor->Start(accepted);
  return reactor.get();
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ConfigService::GetConfig(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  auto reactor = std::make_shared<GetConfigReactor>(fanout_.get());
  if (!fanout_->Register(reactor, nullptr)) {
    reactor->FinishNow(grpc::Status(grpc::StatusCode::UNAVAILABLE, kShuttingDown));
    return reactor.get();
  }
  v1::GetConfigRequest parsed;
  grpc::ByteBuffer copy(*request);  // shares the slices; the reader needs a mutable buffer
  if (!ParseRequest(copy, parsed)) {
    reactor->FinishNow(InvalidArgument("cannot parse the request as tether.v1.GetConfigRequest"));
    return reactor.get();
  }
  absl::StatusOr<config::TypeFilter> filter = ParseFilter(parsed.entity_types());
  if (!filter.ok()) {
    reactor->FinishNow(InvalidArgument(std::string(filter.status().message())));
    return reactor.get();
  }
  config::SnapshotPtr current = fanout_->store().Current();
  if (current == nullptr) {
    reactor->FinishNow(
        grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                     "no config yet: tether has not received one from the control plane"));
    return reactor.get();
  }
  fanout_->Post(
      [fanout = fanout_.get(), reactor, current = std::move(current), filter = *std::move(filter)] {
        UpdatePtr update;
        try {
          update = fanout->GetUpdate(nullptr, *current, filter, UpdateMode::kFull);
        } catch (const std::exception& e) {
          log::Error(kLog, "cannot build update",
                     {{"config_hash", current->config_hash}, {"err", e.what()}});
        }
        reactor->Start(std::move(update));
      });
  return reactor.get();
}

}  // namespace tether::api

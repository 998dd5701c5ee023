// ConfigWatcher (config_watcher.h): the Watch stream, which assembles chunks and writes acks and
// nacks on the watcher's completion-queue thread, and the watcher's sequence thread, which runs
// the callbacks and the reconnect backoff.
#include "client/lib/config_watcher.h"

#include <grpcpp/grpcpp.h>

#include <cassert>
#include <deque>
#include <exception>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sidecar/common/backoff.h"
#include "tether/v1/config.grpc.pb.h"

namespace tether::client {
namespace {

namespace v1 = ::tether::v1;

// After nacking an update that could not be assembled the watcher half-closes the stream so that
// tether reads the nack before the stream goes; if tether keeps the stream open for longer than
// this, the watcher cancels it.
constexpr absl::Duration kNackGrace = absl::Seconds(1);

}  // namespace

// One Watch call on the watcher's completion queue: subscribes, assembles chunks into mirrors,
// hands each complete update to the watcher and writes acks and nacks. It never outlives its
// watcher: Stop waits for its Finish.
//
// Flows: once the call has started, reads run back to back from read completions except that
// reading pauses after each complete update until the watcher's thread calls ResumeReading; writes
// (subscribe, then acks and nacks) are queued, one in flight, and may start from the watcher's
// thread. Finish is requested once, when the read flow has ended (a read failed) and no write is
// in flight: nothing else is pending then, so its completion is the stream's last.
//
// Threading: thread-safe. Completions run on the watcher's completion-queue thread; Send,
// ResumeReading and Cancel may be called from any thread; ResumeReading only once per handed-over
// update. mu_ guards the write queue and the flow flags; the read-flow fields are touched by one
// completion (or ResumeReading) at a time.
class WatchStream final : public std::enable_shared_from_this<WatchStream> {
 public:
  // What the watcher's completion queue hands back: which operation of which stream completed.
  struct Tag {
    enum class Op { kStart, kRead, kWrite, kFinish };
    WatchStream* stream;
    Op op;
  };

  WatchStream(ConfigWatcher::Impl* owner, MirrorPtr held)
      : owner_(owner), assembler_(std::move(held)) {}

  // Starts the call on `cq` with `subscribe` as its first message. The watcher holds a reference
  // until it has handled the stream's end.
  void Start(v1::ConfigService::Stub* stub, grpc::CompletionQueue* cq, v1::WatchRequest subscribe);

  // Queues an ack or nack; dropped once the stream is ending.
  void Send(v1::WatchRequest request) { Enqueue(std::move(request), WriteEnd::kKeepOpen); }

  // Reads the next update; called by the watcher's thread once per handed-over update.
  void ResumeReading() { call_->Read(&response_, &read_tag_); }

  void Cancel() { context_.TryCancel(); }

  // On the completion-queue thread: `op` completed.
  void Complete(Tag::Op op, bool ok);

 private:
  enum class WriteEnd { kKeepOpen, kHalfClose };
  struct PendingWrite {
    v1::WatchRequest request;
    WriteEnd end = WriteEnd::kKeepOpen;
  };

  void OnStarted();
  void OnReadDone(bool ok);
  void OnWriteDone(bool ok);
  void OnFinished();

  void Enqueue(v1::WatchRequest request, WriteEnd end);
  void StartNextWrite(const PendingWrite& write);
  // True once, when Finish may be requested: the read flow ended and no write is in flight (and
  // none starts after, as Enqueue drops writes once reads are over).
  bool TakeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ConfigWatcher::Impl* const owner_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::WatchRequest, v1::WatchResponse>> call_;
  Tag start_tag_{this, Tag::Op::kStart};
  Tag read_tag_{this, Tag::Op::kRead};
  Tag write_tag_{this, Tag::Op::kWrite};
  Tag finish_tag_{this, Tag::Op::kFinish};
  grpc::Status status_;  // filled by Finish

  // Read flow.
  v1::WatchResponse response_;
  UpdateAssembler assembler_;
  UpdateInfo update_;  // the update being assembled
  // Set when an update could not be assembled; later chunks are drained and dropped. OnFinished
  // reads it after every other completion.
  absl::Status failure_;

  absl::Mutex mu_;
  // Front is in flight while writing_. std::deque keeps it in place while others are appended.
  std::deque<PendingWrite> writes_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool half_close_queued_ ABSL_GUARDED_BY(mu_) = false;  // no more writes accepted
  bool writes_over_ ABSL_GUARDED_BY(mu_) = false;        // half-closed, or a write failed
  bool reads_over_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
};

// The watcher's state, its thread's loop and its streams' completion queue.
//
// Threading: the watcher's thread runs Run (and with it every callback), which starts and joins
// the completion-queue thread; streams report from that thread through the On* methods, which
// only record under mu_ and return. mu_ is never held across a callback or a gRPC call.
class ConfigWatcher::Impl {
 public:
  Impl(WatcherOptions options, WatcherCallbacks callbacks, std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        stub_(v1::ConfigService::NewStub(channel)),
        backoff_(BackoffPolicy{.min = options_.backoff_min,
                               .max = options_.backoff_max,
                               .stable_after = absl::InfiniteDuration(),
                               .jitter = BackoffPolicy::Jitter::kUpperHalf}),
        held_(options_.resume_from),
        delivered_(options_.resume_from ? options_.resume_from : std::make_shared<const Mirror>()) {
  }

  // Starts streams, delivers updates and waits out backoff until Stop, then returns once the
  // last stream has ended and the completion-queue thread has returned.
  void Run();
  void Stop();
  MirrorPtr mirror() const {
    absl::MutexLock lock(&mu_);
    return delivered_;
  }

  // From the current stream's completions, on the completion-queue thread.
  void OnStreamUpdate(std::shared_ptr<WatchStream> stream, MirrorPtr mirror, UpdateInfo info);
  void OnStreamFailed();
  void OnStreamDone(absl::Status status, absl::Status failure);

 private:
  struct Delivery {
    std::shared_ptr<WatchStream> stream;
    MirrorPtr mirror;
    UpdateInfo info;
  };
  struct StreamEnd {
    absl::Status status;   // the call's
    absl::Status failure;  // why the watcher ended it, when it did
  };

  // Run's loop, until Stop and the last stream's end.
  void Sequence();
  // The completion-queue thread: hands each completion to its stream until the queue is shut
  // down and drained.
  void ServeCompletions();
  void StartStream();
  void Deliver(Delivery delivery);
  // Reports the end and returns the delay before the next stream.
  absl::Duration HandleEnd(const StreamEnd& end);

  const WatcherOptions options_;
  const WatcherCallbacks callbacks_;
  const std::unique_ptr<v1::ConfigService::Stub> stub_;
  // Every stream's operations complete here (see the header for why not gRPC's callback API).
  grpc::CompletionQueue cq_;

  // Only the watcher's thread uses these.
  // Reset by a stream that delivered an update (progressed_), not by time connected.
  Backoff backoff_;
  // False after an update could not be assembled, until a stream delivers one: resubscribe
  // without resume_hash to get a full update.
  bool resume_ = true;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The live stream, from StartStream until the watcher's thread handled its end. Only that thread
  // sets it, so at most one stream exists at a time.
  std::shared_ptr<WatchStream> stream_ ABSL_GUARDED_BY(mu_);
  // At most one: the stream reads nothing more until the watcher's thread resumes it.
  std::optional<Delivery> delivery_ ABSL_GUARDED_BY(mu_);
  std::optional<StreamEnd> ended_ ABSL_GUARDED_BY(mu_);
  absl::Time cancel_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool progressed_ ABSL_GUARDED_BY(mu_) = false;  // the current stream delivered an update
  // The newest assembled mirror: the next stream starts from it and resumes with its hash.
  MirrorPtr held_ ABSL_GUARDED_BY(mu_);
  MirrorPtr delivered_ ABSL_GUARDED_BY(mu_);
};

// --- WatchStream ---

void WatchStream::Start(v1::ConfigService::Stub* stub, grpc::CompletionQueue* cq,
                        v1::WatchRequest subscribe) {
  {
    absl::MutexLock lock(&mu_);
    // The write flow owns the subscribe from here; OnStarted writes it.
    writes_.push_back(PendingWrite{std::move(subscribe), WriteEnd::kKeepOpen});
    writing_ = true;
  }
  call_ = stub->PrepareAsyncWatch(&context_, cq);
  call_->StartCall(&start_tag_);
}

void WatchStream::Complete(Tag::Op op, bool ok) {
  switch (op) {
    case Tag::Op::kStart:
      // A call that failed to start fails this first write and read, which ends it as usual.
      OnStarted();
      break;
    case Tag::Op::kRead:
      OnReadDone(ok);
      break;
    case Tag::Op::kWrite:
      OnWriteDone(ok);
      break;
    case Tag::Op::kFinish:
      OnFinished();
      break;
  }
}

void WatchStream::OnStarted() {
  const PendingWrite* subscribe;
  {
    absl::MutexLock lock(&mu_);
    subscribe = &writes_.front();
  }
  StartNextWrite(*subscribe);
  call_->Read(&response_, &read_tag_);
}

void WatchStream::OnReadDone(bool ok) {
  if (!ok) {
    bool finish;
    {
      absl::MutexLock lock(&mu_);
      reads_over_ = true;
      writes_.erase(writes_.begin() + (writing_ ? 1 : 0), writes_.end());
      finish = TakeFinishLocked();
    }
    if (finish) call_->Finish(&status_, &finish_tag_);
    return;
  }
  if (!failure_.ok()) {
    // Drain until tether ends the stream or the nack grace runs out.
    call_->Read(&response_, &read_tag_);
    return;
  }
  if (update_.chunks == 0) {
    update_.full = response_.full();
    update_.base_hash = response_.base_hash();
  }
  ++update_.chunks;
  update_.upserts += response_.upserts_size();
  update_.removals += response_.removals_size();
  absl::StatusOr<std::optional<MirrorPtr>> added = assembler_.Add(response_);
  if (!added.ok()) {
    failure_ = absl::Status(added.status().code(), absl::StrCat("update ", response_.config_hash(),
                                                                ": ", added.status().message()));
    v1::WatchRequest nack;
    nack.mutable_nack()->set_config_hash(response_.config_hash());
    nack.mutable_nack()->set_error(std::string(added.status().message()));
    Enqueue(std::move(nack), WriteEnd::kHalfClose);
    owner_->OnStreamFailed();
    call_->Read(&response_, &read_tag_);
    return;
  }
  if (!added->has_value()) {
    call_->Read(&response_, &read_tag_);  // more chunks of this update to come
    return;
  }
  owner_->OnStreamUpdate(shared_from_this(), **added, std::exchange(update_, UpdateInfo{}));
  // Reading resumes once the watcher's thread has handled the update (ResumeReading).
}

void WatchStream::Enqueue(v1::WatchRequest request, WriteEnd end) {
  const PendingWrite* next = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (half_close_queued_ || writes_over_ || reads_over_) return;
    if (end == WriteEnd::kHalfClose) half_close_queued_ = true;
    writes_.push_back(PendingWrite{std::move(request), end});
    if (writing_) return;
    writing_ = true;
    next = &writes_.front();
  }
  StartNextWrite(*next);
}

void WatchStream::StartNextWrite(const PendingWrite& write) {
  if (write.end == WriteEnd::kHalfClose) {
    call_->WriteLast(write.request, grpc::WriteOptions(), &write_tag_);
  } else {
    call_->Write(write.request, &write_tag_);
  }
}

void WatchStream::OnWriteDone(bool ok) {
  const PendingWrite* next = nullptr;
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    const bool was_last = writes_.front().end == WriteEnd::kHalfClose;
    writes_.pop_front();
    // A failed write means the call is broken; its reads fail next.
    if (!ok || was_last) writes_over_ = true;
    if (writes_over_ || reads_over_) writes_.clear();
    if (writes_.empty()) {
      writing_ = false;
      finish = TakeFinishLocked();
    } else {
      next = &writes_.front();
    }
  }
  if (next != nullptr) StartNextWrite(*next);
  if (finish) call_->Finish(&status_, &finish_tag_);
}

bool WatchStream::TakeFinishLocked() {
  if (finish_requested_ || writing_ || !reads_over_) return false;
  finish_requested_ = true;
  return true;
}

void WatchStream::OnFinished() {
  // The watcher's thread drops its reference once it has handled the end, maybe before this
  // returns.
  std::shared_ptr<WatchStream> keep = shared_from_this();
  owner_->OnStreamDone(
      absl::Status(static_cast<absl::StatusCode>(status_.error_code()), status_.error_message()),
      failure_);
}

// --- ConfigWatcher::Impl ---

void ConfigWatcher::Impl::Run() {
  std::thread completions([this] { ServeCompletions(); });
  Sequence();
  // The last stream has finished: nothing starts another operation, and nothing is queued.
  cq_.Shutdown();
  completions.join();
}

void ConfigWatcher::Impl::ServeCompletions() {
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
    const auto* completed = static_cast<const WatchStream::Tag*>(tag);
    completed->stream->Complete(completed->op, ok);
  }
}

void ConfigWatcher::Impl::Sequence() {
  absl::Time reconnect_at = absl::Now();
  for (;;) {
    std::optional<Delivery> delivery;
    std::optional<StreamEnd> ended;
    std::shared_ptr<WatchStream> to_cancel;
    bool start = false;
    {
      absl::MutexLock lock(&mu_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return delivery_.has_value() || ended_.has_value() || (stopping_ && stream_ == nullptr);
      };
      // Timers: the nack grace of a live stream, or the backoff before the next one.
      const absl::Time deadline = stream_ != nullptr ? cancel_at_ : reconnect_at;
      mu_.AwaitWithDeadline(absl::Condition(&has_work), deadline);
      if (ended_.has_value()) {
        ended = std::move(ended_);
        ended_.reset();
        stream_.reset();
        cancel_at_ = absl::InfiniteFuture();
        if (stopping_) return;
      } else if (delivery_.has_value()) {
        delivery = std::move(delivery_);
        delivery_.reset();
      } else if (stream_ == nullptr) {
        if (stopping_) return;
        start = absl::Now() >= reconnect_at;
      } else if (absl::Now() >= cancel_at_) {
        to_cancel = stream_;
        cancel_at_ = absl::InfiniteFuture();
      }
    }
    if (ended.has_value()) {
      reconnect_at = absl::Now() + HandleEnd(*ended);
    } else if (delivery.has_value()) {
      Deliver(*std::move(delivery));
    } else if (to_cancel != nullptr) {
      to_cancel->Cancel();
    } else if (start) {
      StartStream();
    }
  }
}

void ConfigWatcher::Impl::StartStream() {
  v1::WatchRequest request;
  v1::Subscribe* subscribe = request.mutable_subscribe();
  subscribe->set_client_id(options_.client_id);
  for (const std::string& type : options_.entity_types) subscribe->add_entity_types(type);
  subscribe->set_mode(options_.mode == Mode::kDelta ? v1::MODE_DELTA : v1::MODE_FULL);
  std::shared_ptr<WatchStream> stream;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (resume_ && held_ != nullptr && !held_->config_hash.empty()) {
      subscribe->set_resume_hash(held_->config_hash);
    }
    stream = std::make_shared<WatchStream>(this, held_);
    stream_ = stream;
    progressed_ = false;
  }
  // A Stop from here on cancels the context; gRPC then cancels the call as it is created.
  stream->Start(stub_.get(), &cq_, std::move(request));
}

void ConfigWatcher::Impl::Deliver(Delivery delivery) {
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    stopping = stopping_;
    if (!stopping) delivered_ = delivery.mirror;
  }
  if (stopping) {
    // The stream is cancelled: this read fails and lets it end.
    delivery.stream->ResumeReading();
    return;
  }
  absl::Status verdict;
  try {
    verdict = callbacks_.on_update(delivery.mirror, delivery.info);
  } catch (const std::exception& e) {
    verdict = absl::InternalError(absl::StrCat("on_update threw: ", e.what()));
  }
  v1::WatchRequest reply;
  if (verdict.ok()) {
    reply.mutable_ack()->set_config_hash(delivery.mirror->config_hash);
  } else {
    reply.mutable_nack()->set_config_hash(delivery.mirror->config_hash);
    reply.mutable_nack()->set_error(std::string(verdict.message()));
  }
  delivery.stream->Send(std::move(reply));
  delivery.stream->ResumeReading();
}

absl::Duration ConfigWatcher::Impl::HandleEnd(const StreamEnd& end) {
  bool progressed;
  {
    absl::MutexLock lock(&mu_);
    progressed = progressed_;
  }
  if (progressed) {
    backoff_.Reset();
    resume_ = true;
  }
  // Milliseconds are precise enough for people reading the delay in a log.
  const absl::Duration delay =
      absl::Trunc(backoff_.Next(absl::ZeroDuration()), absl::Milliseconds(1));
  absl::Status error;
  if (!end.failure.ok()) {
    resume_ = false;
    error =
        absl::Status(end.failure.code(), absl::StrCat("watch: ", end.failure.message(),
                                                      "; nacked, resubscribing for a full update"));
  } else if (end.status.ok()) {
    error = absl::UnavailableError("watch: tether ended the stream");
  } else {
    error = absl::Status(end.status.code(), absl::StrCat("watch: ", end.status.message()));
  }
  if (callbacks_.on_error) callbacks_.on_error(error, delay);
  return delay;
}

void ConfigWatcher::Impl::Stop() {
  std::shared_ptr<WatchStream> stream;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    stream = stream_;
  }
  if (stream != nullptr) stream->Cancel();
}

void ConfigWatcher::Impl::OnStreamUpdate(std::shared_ptr<WatchStream> stream, MirrorPtr mirror,
                                         UpdateInfo info) {
  absl::MutexLock lock(&mu_);
  assert(!delivery_.has_value());  // the stream reads nothing until the last one is handled
  held_ = mirror;
  progressed_ = true;
  delivery_ = Delivery{std::move(stream), std::move(mirror), std::move(info)};
}

void ConfigWatcher::Impl::OnStreamFailed() {
  absl::MutexLock lock(&mu_);
  cancel_at_ = absl::Now() + kNackGrace;
}

void ConfigWatcher::Impl::OnStreamDone(absl::Status status, absl::Status failure) {
  absl::MutexLock lock(&mu_);
  ended_ = StreamEnd{std::move(status), std::move(failure)};
}

// --- ConfigWatcher ---

absl::StatusOr<std::unique_ptr<ConfigWatcher>> ConfigWatcher::Create(WatcherOptions options,
                                                                     WatcherCallbacks callbacks) {
  if (options.target.empty()) return absl::InvalidArgumentError("watcher target is empty");
  if (options.client_id.empty()) {
    return absl::InvalidArgumentError(
        "watcher client_id is empty: name the client (tether shows it in its status)");
  }
  if (!callbacks.on_update) return absl::InvalidArgumentError("watcher on_update is not set");
  if (options.backoff_min <= absl::ZeroDuration() || options.backoff_max < options.backoff_min) {
    return absl::InvalidArgumentError(
        absl::StrCat("watcher backoff must satisfy 0 < min <= max; got min ",
                     absl::FormatDuration(options.backoff_min), ", max ",
                     absl::FormatDuration(options.backoff_max)));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      MakeChannel(options.target, options.tls, options.backoff_min, options.backoff_max);
  if (!channel.ok()) return channel.status();
  auto impl = std::make_shared<Impl>(std::move(options), std::move(callbacks), *std::move(channel));
  std::thread thread([impl] { impl->Run(); });
  return std::unique_ptr<ConfigWatcher>(new ConfigWatcher(std::move(impl), std::move(thread)));
}

ConfigWatcher::ConfigWatcher(std::shared_ptr<Impl> impl, std::thread thread)
    : impl_(std::move(impl)), thread_(std::move(thread)) {}

ConfigWatcher::~ConfigWatcher() {
  Stop();
  absl::MutexLock lock(&join_mu_);
  // Still joinable only when destroyed from a callback: the thread holds impl_ and exits once the
  // callback returns and the stream has ended.
  if (thread_.joinable()) thread_.detach();
}

void ConfigWatcher::Stop() {
  impl_->Stop();
  absl::MutexLock lock(&join_mu_);
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

MirrorPtr ConfigWatcher::mirror() const { return impl_->mirror(); }

}  // namespace tether::client

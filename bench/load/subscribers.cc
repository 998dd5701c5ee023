// SubscriberPool (see subscribers.h): one async Watch stream per subscriber, all completing on
// the pool's queue.
#include "bench/load/subscribers.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "tether/v1/config.grpc.pb.h"

namespace tether::bench {

// One Watch stream. Reads run back to back; writes (the subscribe, then one ack per update) one
// at a time, the newest ack replacing one not yet started. Finish is requested once, when a read
// fails (the stream is over); its completion reports the end to the pool.
class SubscriberPool::Subscriber {
 public:
  // What the pool's queue hands back: which operation of which stream completed.
  struct Tag {
    enum class Op { kStart, kRead, kWrite, kFinish };
    Subscriber* subscriber;
    Op op;
  };

  Subscriber(SubscriberPool& pool, size_t index, v1::Mode mode, const std::string& resume_hash)
      : pool_(pool) {
    grpc::ChannelArguments args;
    // Each subscriber gets its own connection, as separate proxies would, rather than gRPC
    // sharing one between channels with equal arguments.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stub_ = v1::ConfigService::NewStub(
        grpc::CreateCustomChannel(pool.target_, grpc::InsecureChannelCredentials(), args));
    v1::Subscribe& subscribe = *in_flight_.mutable_subscribe();
    subscribe.set_client_id(absl::StrCat("tether-load-", index));
    subscribe.set_mode(mode);
    subscribe.set_resume_hash(resume_hash);
  }

  void Start() {
    // tether may still be starting: wait for its socket rather than fail at once.
    context_.set_wait_for_ready(true);
    stream_ = stub_->PrepareAsyncWatch(&context_, &pool_.cq_);
    stream_->StartCall(&start_tag_);
  }

  void Cancel() { context_.TryCancel(); }

  void Complete(Tag::Op op, bool ok) {
    switch (op) {
      case Tag::Op::kStart:
        OnStarted(ok);
        break;
      case Tag::Op::kRead:
        OnReadDone(ok);
        break;
      case Tag::Op::kWrite:
        OnWriteDone(ok);
        break;
      case Tag::Op::kFinish:
        pool_.Ended(
            status_.ok() ? "" : absl::StrCat(status_.error_code(), " ", status_.error_message()));
        break;
    }
  }

 private:
  void OnStarted(bool ok) {
    if (!ok) {
      stream_->Finish(&status_, &finish_tag_);
      return;
    }
    {
      MutexLock lock(&mu_);
      writing_ = true;
    }
    stream_->Write(in_flight_, &write_tag_);
    stream_->Read(&response_, &read_tag_);
  }

  void OnReadDone(bool ok) {
    if (!ok) {
      // The stream is over; Finish says why.
      stream_->Finish(&status_, &finish_tag_);
      return;
    }
    if (response_.last_chunk()) {
      pool_.Received(response_.config_hash(), std::chrono::steady_clock::now());
      Ack(response_.config_hash());
    }
    stream_->Read(&response_, &read_tag_);
  }

  void OnWriteDone(bool ok) {
    {
      MutexLock lock(&mu_);
      writing_ = ok && !pending_ack_.empty();
      if (!writing_) return;
      in_flight_.mutable_ack()->set_config_hash(std::exchange(pending_ack_, {}));
    }
    stream_->Write(in_flight_, &write_tag_);
  }

  void Ack(const std::string& config_hash) {
    {
      MutexLock lock(&mu_);
      if (writing_) {
        pending_ack_ = config_hash;
        return;
      }
      writing_ = true;
      in_flight_.mutable_ack()->set_config_hash(config_hash);
    }
    stream_->Write(in_flight_, &write_tag_);
  }

  SubscriberPool& pool_;
  std::unique_ptr<v1::ConfigService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::WatchRequest, v1::WatchResponse>> stream_;
  Tag start_tag_{this, Tag::Op::kStart};
  Tag read_tag_{this, Tag::Op::kRead};
  Tag write_tag_{this, Tag::Op::kWrite};
  Tag finish_tag_{this, Tag::Op::kFinish};
  v1::WatchResponse response_;  // the read path only
  grpc::Status status_;         // filled by Finish
  Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Only the write path touches it while writing_; Ack fills it when no write is in flight.
  v1::WatchRequest in_flight_;
  std::string pending_ack_ ABSL_GUARDED_BY(mu_);
};

// Two threads: as many as gRPC's callback API ran these streams on (on a machine of up to 4
// cores), so that what changes is only how they wait for work.
SubscriberPool::SubscriberPool(std::string target) : target_(std::move(target)) {
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { Serve(); });
}

SubscriberPool::~SubscriberPool() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    for (const auto& subscriber : subscribers_) subscriber->Cancel();
    mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return ended_ == subscribers_.size(); });
  }
  // Every stream has finished, so nothing starts another operation; what is still queued (a
  // write failing after the cancel) drains before the threads return.
  cq_.Shutdown();
  for (std::thread& thread : threads_) thread.join();
}

void SubscriberPool::Serve() {
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
    const auto* completed = static_cast<const Subscriber::Tag*>(tag);
    completed->subscriber->Complete(completed->op, ok);
  }
}

void SubscriberPool::Add(size_t count, v1::Mode mode, const std::string& resume_hash) {
  for (size_t i = 0; i < count; ++i) {
    Subscriber* subscriber;
    {
      MutexLock lock(&mu_);
      subscribers_.push_back(
          std::make_unique<Subscriber>(*this, subscribers_.size(), mode, resume_hash));
      subscriber = subscribers_.back().get();
    }
    subscriber->Start();
  }
}

size_t SubscriberPool::size() const {
  MutexLock lock(&mu_);
  return subscribers_.size();
}

absl::StatusOr<SteadyTime> SubscriberPool::AwaitAll(const std::string& config_hash,
                                                    absl::Duration timeout) {
  MutexLock lock(&mu_);
  Arrivals& arrivals = arrivals_[config_hash];
  const bool done = mu_.AwaitWithTimeout(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return arrivals.count >= subscribers_.size() || !first_error_.empty();
      },
      timeout);
  if (!first_error_.empty()) {
    return absl::UnavailableError(absl::StrCat("a subscriber's stream ended: ", first_error_));
  }
  if (!done) {
    return absl::DeadlineExceededError(absl::StrCat(arrivals.count, " of ", subscribers_.size(),
                                                    " subscribers got ", config_hash, " in ",
                                                    absl::FormatDuration(timeout)));
  }
  return arrivals.last;
}

std::optional<SteadyTime> SubscriberPool::FirstArrival(const std::string& config_hash) const {
  MutexLock lock(&mu_);
  const auto it = arrivals_.find(config_hash);
  if (it == arrivals_.end() || it->second.count == 0) return std::nullopt;
  return it->second.first;
}

void SubscriberPool::Received(const std::string& config_hash, SteadyTime when) {
  MutexLock lock(&mu_);
  Arrivals& arrivals = arrivals_[config_hash];
  arrivals.first = arrivals.count == 0 ? when : std::min(arrivals.first, when);
  ++arrivals.count;
  arrivals.last = std::max(arrivals.last, when);
}

void SubscriberPool::Ended(const std::string& error) {
  MutexLock lock(&mu_);
  ++ended_;
  if (!stopping_ && first_error_.empty()) {
    first_error_ = error.empty() ? "finished by tether" : error;
  }
}

}  // namespace tether::bench

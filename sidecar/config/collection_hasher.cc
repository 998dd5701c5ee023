#include "sidecar/config/collection_hasher.h"

#include <algorithm>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "protocol/kong_hash.h"
#include "sidecar/config/json_parse.h"

namespace tether::config {
namespace {

// Below this, starting a thread costs more than it saves.
constexpr size_t kMinMessageBytesForHelper = size_t{512} << 10;
// Rows handed over at once: few enough locks, small enough that the helper starts early. More
// than five, so that when the first chunk goes, whether the collection has more than five rows
// (which changes Kong's separators, KongArrayHasher) is known.
constexpr size_t kRowsPerChunk = 512;
constexpr size_t kLongArrayRows = 6;

}  // namespace

// A collection being hashed; only the thread that owns it touches `hasher`.
struct CollectionHasher::Job {
  std::shared_ptr<EntityCollection> collection;
  std::optional<protocol::KongArrayHasher> hasher;
  bool long_array = false;
  // The thread that took its first chunk and takes all the others, in order (guarded by mu_).
  Worker owner = Worker::kNone;
};

CollectionHasher::CollectionHasher(int max_depth, size_t message_bytes)
    : max_depth_(max_depth), use_helper_(message_bytes >= kMinMessageBytesForHelper) {}

CollectionHasher::~CollectionHasher() {
  cancelled_.store(true, std::memory_order_relaxed);
  MutexLock lock(&mu_);
  closed_ = true;
}

void CollectionHasher::Begin(std::shared_ptr<EntityCollection> collection) {
  job_ = std::make_shared<Job>();
  job_->collection = std::move(collection);
  rows_.clear();
  rows_.reserve(kRowsPerChunk);
  queued_any_ = false;
}

void CollectionHasher::AddRow(absl::string_view json) {
  if (job_ == nullptr) return;
  rows_.push_back(json);
  if (rows_.size() >= kRowsPerChunk) Flush(/*last=*/false);
}

void CollectionHasher::End() {
  if (job_ == nullptr) return;
  Flush(/*last=*/true);
  job_.reset();
}

void CollectionHasher::Drop() { job_.reset(); }

void CollectionHasher::Flush(bool last) {
  // Set before the first chunk is queued, and not touched after: the hashing thread reads it.
  // The first chunk is full (so past five rows) or the whole collection.
  if (!queued_any_) job_->long_array = rows_.size() >= kLongArrayRows;
  queued_any_ = true;
  Chunk chunk{job_, std::move(rows_), last};
  rows_.clear();
  rows_.reserve(kRowsPerChunk);
  Enqueue(std::move(chunk));
}

void CollectionHasher::Enqueue(Chunk chunk) {
  {
    MutexLock lock(&mu_);
    queue_.push_back(std::move(chunk));
  }
  if (use_helper_ && !helper_.joinable()) {
    try {
      helper_ = std::jthread([this] { Work(Worker::kHelper); });
    } catch (const std::system_error&) {
      // No thread to be had (a pids limit): Finish() hashes everything on this one.
    }
  }
}

absl::Status CollectionHasher::Finish() {
  {
    MutexLock lock(&mu_);
    closed_ = true;
  }
  // The helper may still be on the collections it took; this thread takes the rest.
  Work(Worker::kDecoder);
  if (helper_.joinable()) helper_.join();
  MutexLock lock(&mu_);
  return status_;
}

void CollectionHasher::Work(Worker self) {
  RowParser parser(max_depth_);
  for (;;) {
    Chunk chunk;
    {
      MutexLock lock(&mu_);
      // The first chunk of a collection no one has taken, or of one this thread has.
      const auto next = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return std::find_if(queue_.begin(), queue_.end(), [self](const Chunk& c) {
          return c.job->owner == Worker::kNone || c.job->owner == self;
        });
      };
      // The helper waits for chunks until the decoder has read the message; the decoder, which
      // only comes here then, does not.
      if (self == Worker::kHelper) {
        mu_.Await([&]()
                      ABSL_NO_THREAD_SAFETY_ANALYSIS { return closed_ || next() != queue_.end(); });
      }
      const auto it = next();
      if (it == queue_.end()) return;
      it->job->owner = self;
      chunk = std::move(*it);
      queue_.erase(it);
    }
    if (absl::Status status = Hash(chunk, parser); !status.ok()) {
      MutexLock lock(&mu_);
      if (status_.ok()) status_ = std::move(status);
    }
  }
}

absl::Status CollectionHasher::Hash(Chunk& chunk, RowParser& parser) const {
  Job& job = *chunk.job;
  if (!job.hasher.has_value()) job.hasher.emplace(job.long_array);
  for (absl::string_view json : chunk.rows) {
    if (cancelled_.load(std::memory_order_relaxed)) return absl::CancelledError();
    const absl::StatusOr<const rapidjson::Value*> row = parser.Parse(json);
    if (!row.ok()) {
      return absl::InternalError(
          absl::StrCat("decoder: a row does not parse again: ", row.status().message()));
    }
    job.hasher->Add(**row);
  }
  if (chunk.last) job.collection->hash = job.hasher->Finish();
  return absl::OkStatus();
}

}  // namespace tether::config

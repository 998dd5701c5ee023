#include "sidecar/config/collection_hasher.h"

#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "protocol/kong_hash.h"
#include "sidecar/config/json_parse.h"

namespace tether::config {

CollectionHasher::~CollectionHasher() {
  cancelled_.store(true, std::memory_order_relaxed);
  MutexLock lock(&mu_);
  closed_ = true;
}

void CollectionHasher::Add(std::shared_ptr<EntityCollection> collection) {
  queued_rows_ += collection->items.size();
  {
    MutexLock lock(&mu_);
    queue_.push_back(std::move(collection));
  }
  if (queued_rows_ >= kMinRowsForHelper && !helper_.joinable()) {
    try {
      helper_ = std::jthread([this] { Work(/*wait=*/true); });
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
  Work(/*wait=*/false);
  if (helper_.joinable()) helper_.join();
  MutexLock lock(&mu_);
  return status_;
}

void CollectionHasher::Work(bool wait) {
  RowParser parser(max_depth_);
  for (;;) {
    std::shared_ptr<EntityCollection> collection;
    {
      MutexLock lock(&mu_);
      if (wait) {
        mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return closed_ || !queue_.empty(); });
      }
      if (queue_.empty()) return;
      collection = std::move(queue_.front());
      queue_.pop_front();
    }
    if (absl::Status status = Hash(*collection, parser); !status.ok()) {
      MutexLock lock(&mu_);
      if (status_.ok()) status_ = std::move(status);
    }
  }
}

absl::Status CollectionHasher::Hash(EntityCollection& collection, RowParser& parser) const {
  protocol::KongArrayHasher hasher(collection.items.size());
  for (const Entity& entity : collection.items) {
    if (cancelled_.load(std::memory_order_relaxed)) return absl::CancelledError();
    const absl::StatusOr<const rapidjson::Value*> row = parser.Parse(entity.json);
    if (!row.ok()) {
      return absl::InternalError(
          absl::StrCat("decoder: a row does not parse again: ", row.status().message()));
    }
    hasher.Add(**row);
  }
  collection.hash = hasher.Finish();
  return absl::OkStatus();
}

}  // namespace tether::config

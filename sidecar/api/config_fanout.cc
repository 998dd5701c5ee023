#include "sidecar/api/config_fanout.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sidecar/api/watch_reactor.h"
#include "sidecar/common/log.h"

namespace tether::api {
namespace {

constexpr absl::string_view kLog = "api";

}  // namespace

ConfigFanout::ConfigFanout(config::SnapshotStore& store, status::StatusBoard& status,
                           size_t max_chunk_bytes, size_t update_cache_bytes,
                           size_t max_subscribers)
    : store_(store),
      status_(status),
      max_subscribers_(max_subscribers),
      cache_(max_chunk_bytes, update_cache_bytes),
      worker_([this] { Run(); }) {}

void ConfigFanout::OnPublish() {
  MutexLock lock(&mu_);
  dirty_ = true;
}

absl::Status ConfigFanout::Register(std::shared_ptr<Stream> stream,
                                    std::shared_ptr<WatchReactor> watch) {
  uint64_t suppressed = 0;
  bool log_refusal = false;
  {
    MutexLock lock(&mu_);
    Stream* key = stream.get();
    if (shutting_down_) {
      streams_.emplace(key, Registered{std::move(stream), nullptr});
      return absl::UnavailableError(kShuttingDown);
    }
    if (watch == nullptr || watches_ < max_subscribers_) {
      if (watch != nullptr) ++watches_;
      streams_.emplace(key, Registered{std::move(stream), std::move(watch)});
      return absl::OkStatus();
    }
    // Kept until OnDone like any stream, but never offered a snapshot.
    streams_.emplace(key, Registered{std::move(stream), nullptr});
    log_refusal = refusal_log_.Allow(absl::Now(), suppressed);
  }
  status_.RecordSubscriberRefused();
  if (log_refusal) {
    log::Warn(kLog, "refused a subscriber: too many",
              {{"max_subscribers", max_subscribers_}, {"refusals_not_logged", suppressed}});
  }
  return absl::ResourceExhaustedError(absl::StrCat("tether serves at most ", max_subscribers_,
                                                   " subscribers (--grpc-max-subscribers)"));
}

void ConfigFanout::Unregister(Stream* stream) {
  std::shared_ptr<Stream> last;
  MutexLock lock(&mu_);
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  if (it->second.watch != nullptr) --watches_;
  last = std::move(it->second.stream);
  streams_.erase(it);
  // `last` is released after the lock (declared before it).
}

void ConfigFanout::Post(Task task) {
  MutexLock lock(&mu_);
  if (stopping_) return;
  tasks_.push_back(std::move(task));
}

void ConfigFanout::BeginShutdown() {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    MutexLock lock(&mu_);
    shutting_down_ = true;
    for (auto& [key, registered] : streams_) streams.push_back(registered.stream);
  }
  for (const auto& stream : streams) stream->FinishForShutdown();
}

void ConfigFanout::Stop() {
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

absl::StatusOr<UpdatePtr> ConfigFanout::GetUpdate(const config::SnapshotPtr& base,
                                                  const config::SnapshotPtr& target,
                                                  const config::TypeFilter& filter, UpdateMode mode,
                                                  UpdateCache::Keep keep) {
  const uint64_t evictions = cache_.stats().evictions;
  UpdatePtr update;
  try {
    update = cache_.Get(base, target, filter, mode, keep);
  } catch (const std::exception& e) {
    log::Error(kLog, "cannot build update",
               {{"config_hash", target->config_hash}, {"err", e.what()}});
    return absl::InternalError("cannot build the update");
  }
  const UpdateCache::Stats stats = cache_.stats();
  if (stats.evictions > evictions) status_.RecordUpdateCacheEvictions(stats.evictions - evictions);
  MutexLock lock(&mu_);
  stats_ = stats;
  return update;
}

UpdateCache::Stats ConfigFanout::Stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

std::optional<ConfigFanout::Built> ConfigFanout::Build(const std::shared_ptr<WatchReactor>& watch) {
  std::optional<SubscriberCursor::Plan> plan = watch->TakePending();
  if (!plan) return std::nullopt;
  absl::StatusOr<UpdatePtr> update = GetUpdate(plan->base, plan->target, plan->filter, plan->mode);
  if (!update.ok()) {
    watch->FinishInternal(update.status().message());
    return std::nullopt;
  }
  return Built{watch, std::move(plan->target), *std::move(update)};
}

void ConfigFanout::BuildFor(const std::shared_ptr<WatchReactor>& watch) {
  if (std::optional<Built> built = Build(watch)) {
    watch->StartUpdate(std::move(built->target), std::move(built->update));
  }
}

void ConfigFanout::Run() {
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
        std::vector<Built> built;
        for (const auto& watch : watches) {
          if (!watch->Offer(latest)) continue;
          if (std::optional<Built> one = Build(watch)) built.push_back(*std::move(one));
        }
        // Smallest first: a subscriber owed a few changed rows should not wait while whole
        // configs start (each one's first chunk is written here). No update (nothing changed in
        // the subscriber's types) is the smallest.
        const auto bytes = [](const Built& b) { return b.update != nullptr ? b.update->bytes : 0; };
        std::stable_sort(built.begin(), built.end(),
                         [&](const Built& a, const Built& b) { return bytes(a) < bytes(b); });
        for (Built& one : built) {
          one.watch->StartUpdate(std::move(one.target), std::move(one.update));
        }
      }
    }
    for (Task& task : tasks) task();
  }
}

}  // namespace tether::api

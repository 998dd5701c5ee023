#include "sidecar/pipeline/config_cache.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sidecar/common/log.h"

namespace tether::pipeline {
namespace {

constexpr absl::string_view kLog = "cache";
// How far in the future a cache's written_at may be: clocks of the writer and
// of this start may disagree a little; beyond that the age cannot be known, and
// --max-cache-age would pass anything.
constexpr absl::Duration kClockSkew = absl::Minutes(5);

}  // namespace

ConfigCache::ConfigCache(const std::string& data_dir, std::function<void()> on_write_failed)
    : data_dir_(data_dir),
      on_write_failed_(std::move(on_write_failed)),
      disk_(data_dir),
      writer_([this](config::CachedConfig c) { Write(std::move(c)); }) {
  RemoveStaleTempFiles();
}

void ConfigCache::RemoveStaleTempFiles() {
  // A process killed mid-write leaves its temp file behind; nothing else
  // ever reads one, and a node that crash-loops would otherwise fill the
  // volume.
  const std::string prefix = absl::StrCat(config::DiskCache::kFileName, ".tmp.");
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, prefix)) continue;
    if (std::filesystem::remove(entry.path(), ec)) {
      log::Info(kLog, "removed a cache write left unfinished", {{"path", entry.path().string()}});
    }
  }
}

config::SnapshotPtr ConfigCache::Load(const config::DecodeLimits& limits, absl::Duration max_age) {
  absl::StatusOr<config::CachedConfig> cached = disk_.Read();
  if (absl::IsNotFound(cached.status())) {
    log::Info(kLog, "no cached config", {{"path", disk_.path()}});
    return nullptr;
  }
  if (absl::IsFailedPrecondition(cached.status())) {
    log::Warn(kLog, "not serving the cached config, waiting for the control plane",
              {{"err", cached.status().message()}});
    return nullptr;
  }
  absl::Status unusable = cached.status();
  config::SnapshotPtr snapshot;
  if (unusable.ok()) {
    const absl::Duration age = absl::Now() - cached->written_at;
    if (age < -kClockSkew) {
      log::Warn(kLog,
                "cached config was written in the future, waiting for the "
                "control plane",
                {{"config_hash", cached->config_hash},
                 {"written_at", absl::FormatTime(cached->written_at)}});
      return nullptr;
    }
    if (max_age > absl::ZeroDuration() && age > max_age) {
      log::Warn(kLog, "cached config is too old to serve, waiting for the control plane",
                {{"config_hash", cached->config_hash},
                 {"age", absl::FormatDuration(absl::Trunc(age, absl::Seconds(1)))},
                 {"max_cache_age", absl::FormatDuration(max_age)}});
      return nullptr;
    }
    absl::StatusOr<config::DecodeResult> decoded = config::DecodeReconfigure(
        cached->frame, "", limits, config::Source::kDiskCache, cached->received_at);
    if (!decoded.ok()) {
      unusable = decoded.status();
    } else if (decoded->kind != config::DecodeResult::Kind::kNewSnapshot ||
               decoded->config_hash != cached->config_hash) {
      unusable = absl::DataLossError("cached frame does not hold the cached config");
    } else {
      snapshot = decoded->snapshot;
    }
  }
  if (!unusable.ok()) {
    absl::StatusOr<std::string> aside = disk_.MoveAside();
    log::Warn(kLog, "cached config is unusable, not serving it",
              {{"err", unusable.message()},
               {"moved_to", aside.ok() ? *aside : std::string(aside.status().message())}});
    return nullptr;
  }
  log::Info(kLog, "serving cached config until the control plane is reached",
            {{"config_hash", snapshot->config_hash},
             {"entities", snapshot->EntityCount()},
             {"written_at", absl::FormatTime(cached->written_at)}});
  return snapshot;
}

void ConfigCache::Save(const config::Snapshot& snapshot, std::string frame) {
  config::CachedConfig c;
  c.frame = std::move(frame);
  c.config_hash = snapshot.config_hash;
  c.hashes = snapshot.hashes;
  c.received_at = snapshot.received_at;
  c.cp_timestamp = snapshot.cp_timestamp;
  writer_.Submit(std::move(c));
}

void ConfigCache::Stop() {
  writer_.Flush();
  writer_.Stop();
}

void ConfigCache::Write(config::CachedConfig config) {
  const std::string hash = config.config_hash;
  if (absl::Status st = disk_.Write(std::move(config)); !st.ok()) {
    log::Warn(kLog, "cannot save config cache", {{"config_hash", hash}, {"err", st.message()}});
    if (on_write_failed_) on_write_failed_();
    return;
  }
  log::Debug(kLog, "config cached", {{"config_hash", hash}, {"path", disk_.path()}});
}

}  // namespace tether::pipeline

#include "sidecar/pipeline/config_applier.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "sidecar/common/log.h"
#include "sidecar/config/sharing.h"

namespace tether::pipeline {
namespace {

constexpr absl::string_view kLog = "config";

// "services=3 routes=4 ...", for the one info line per applied config.
std::string CountsByType(const config::Snapshot& snapshot) {
  return absl::StrJoin(snapshot.types, " ", [](std::string* out, const auto& entry) {
    absl::StrAppend(out, entry.first, "=", entry.second->items.size());
  });
}

size_t ServicesAndRoutes(const config::Snapshot& snapshot) {
  size_t n = 0;
  for (absl::string_view type : {"services", "routes"}) {
    if (auto it = snapshot.types.find(type); it != snapshot.types.end()) {
      n += it->second->items.size();
    }
  }
  return n;
}

}  // namespace

ConfigApplier::ConfigApplier(ApplierOptions options, config::SnapshotStore& store,
                             status::StatusBoard& status, ConfigCache* cache)
    : options_(options),
      store_(store),
      status_(status),
      cache_(cache),
      board_follows_store_(store_.AddObserver([this](const config::SnapshotPtr& snapshot) {
        status_.RecordApplied(snapshot, absl::Now());
      })) {}

std::optional<std::string> ConfigApplier::Apply(Frame frame) {
  const size_t compressed = frame.bytes.size();
  const config::SnapshotPtr current = store_.Current();
  // A config served from the disk cache is decoded again when the CP sends the same hash, so that
  // status and subscribers' next updates say the CP confirmed it (subscribers get no resend).
  const std::string current_hash =
      current != nullptr && current->source == config::Source::kControlPlane ? current->config_hash
                                                                             : "";
  absl::StatusOr<config::DecodeResult> decoded =
      config::DecodeReconfigure(frame.bytes, current_hash, options_.limits,
                                config::Source::kControlPlane, frame.received_at, current.get());
  if (!decoded.ok()) {
    config::Rejected rejected = config::RejectionOf(decoded.status());
    Reject(std::move(rejected.config_hash), rejected.cause, std::string(decoded.status().message()),
           compressed);
    return std::nullopt;
  }
  switch (decoded->kind) {
    case config::DecodeResult::Kind::kIgnoredType:
      log::Info(kLog, "ignoring control plane message", {{"type", decoded->message_type}});
      status_.RecordIgnored();
      return std::nullopt;
    case config::DecodeResult::Kind::kSameHash:
      log::Debug(kLog, "same config received, nothing to apply",
                 {{"config_hash", decoded->config_hash}});
      status_.RecordSameHash();
      return decoded->config_hash;
    case config::DecodeResult::Kind::kNewSnapshot:
      break;
  }
  config::Snapshot& s = *decoded->snapshot;
  if (options_.guard_empty_config && current != nullptr && ServicesAndRoutes(s) == 0) {
    if (const size_t held = ServicesAndRoutes(*current); held > 0) {
      Reject(s.config_hash, config::RejectCause::kEmptyConfig,
             absl::StrCat("empty config refused (--guard-empty-config): it has no services and no "
                          "routes, the current config has ",
                          held),
             compressed);
      return std::nullopt;
    }
  }
  // Before it is published: afterwards the snapshot is shared with readers and immutable.
  const config::SharingStats sharing =
      current != nullptr ? config::ShareWithPrevious(s, *current) : config::SharingStats{};
  log::Info(kLog, "config applied",
            {{"config_hash", s.config_hash},
             {"entities", s.EntityCount()},
             {"counts", CountsByType(s)},
             {"compressed_bytes", s.compressed_bytes},
             {"decoded_bytes", s.decoded_bytes},
             {"decode_time", absl::FormatDuration(s.decode_duration)},
             {"unchanged_types", sharing.shared_collections},
             {"held_bytes", s.added_bytes}});
  store_.Publish(decoded->snapshot);
  if (cache_ != nullptr) cache_->Save(s, std::move(frame.bytes));
  return decoded->config_hash;
}

void ConfigApplier::Reject(std::string config_hash, config::RejectCause cause, std::string reason,
                           size_t compressed_bytes) {
  log::Warn(kLog, "config rejected, keeping the current one",
            {{"config_hash", config_hash.empty() ? "unknown" : config_hash},
             {"cause", config::RejectCauseName(cause)},
             {"bytes", compressed_bytes},
             {"err", reason}});
  status_.RecordRejection(
      status::Rejection{std::move(config_hash), std::move(reason), absl::Now(), cause});
}

void ConfigApplier::Refused(const absl::Status& reason) {
  // The session refuses only frames over --cluster-max-payload.
  status_.RecordRejection(status::Rejection{"", std::string(reason.message()), absl::Now(),
                                            config::RejectCause::kTooLarge});
}

}  // namespace tether::pipeline

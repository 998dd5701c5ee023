#include "sidecar/app/config_applier.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "sidecar/common/log.h"

namespace tether::app {
namespace {

constexpr absl::string_view kLog = "config";

// "services=3 routes=4 ...", for the one info line per applied config.
std::string CountsByType(const config::Snapshot& snapshot) {
  return absl::StrJoin(snapshot.types, " ", [](std::string* out, const auto& entry) {
    absl::StrAppend(out, entry.first, "=", entry.second.items.size());
  });
}

}  // namespace

std::optional<std::string> ConfigApplier::Apply(cp::Frame frame) {
  const size_t compressed = frame.bytes.size();
  absl::StatusOr<config::DecodeResult> decoded = config::DecodeReconfigure(
      frame.bytes, store_.CurrentHash(), limits_, config::Source::kControlPlane, frame.received_at);
  if (!decoded.ok()) {
    std::string hash = config::RejectedConfigHash(decoded.status());
    log::Warn(kLog, "config rejected, keeping the current one",
              {{"config_hash", hash.empty() ? "unknown" : hash},
               {"bytes", compressed},
               {"err", decoded.status().message()}});
    status_.RecordRejection(
        status::Rejection{std::move(hash), std::string(decoded.status().message()), absl::Now()});
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
  const config::Snapshot& s = *decoded->snapshot;
  log::Info(kLog, "config applied",
            {{"config_hash", s.config_hash},
             {"entities", s.EntityCount()},
             {"counts", CountsByType(s)},
             {"compressed_bytes", s.compressed_bytes},
             {"decoded_bytes", s.decoded_bytes},
             {"decode_time", absl::FormatDuration(s.decode_duration)}});
  store_.Publish(decoded->snapshot);
  status_.RecordApplied(decoded->snapshot, absl::Now());
  return decoded->config_hash;
}

void ConfigApplier::Refused(const absl::Status& reason) {
  status_.RecordRejection(status::Rejection{"", std::string(reason.message()), absl::Now()});
}

}  // namespace tether::app

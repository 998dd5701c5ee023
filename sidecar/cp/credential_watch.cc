#include "sidecar/cp/credential_watch.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "sidecar/common/log.h"

namespace tether::cp {

CredentialWatch::Verdict CredentialWatch::Check(absl::Time now) {
  absl::StatusOr<TlsCredentials> fresh = LoadTlsCredentials(options_);
  if (fresh.ok() && fresh->SameFiles(current_)) {
    if (refusal_.ok()) return Verdict::kUnchanged;
    refusal_ = absl::OkStatus();
    return Verdict::kReverted;
  }
  absl::Status refused = fresh.status();
  if (fresh.ok() && fresh->not_after <= now) {
    refused = absl::FailedPreconditionError(absl::StrCat("new cluster certificate ", fresh->subject,
                                                         " expired at ",
                                                         absl::FormatTime(fresh->not_after)));
  }
  if (!refused.ok()) {
    // The files are read again every interval: a refusal is news once.
    if (refused == refusal_) return Verdict::kStillRefused;
    refusal_ = std::move(refused);
    return Verdict::kRefused;
  }
  current_ = *std::move(fresh);
  refusal_ = absl::OkStatus();
  return Verdict::kRotated;
}

void CredentialWatch::WarnAboutCurrent(absl::Time now, bool key_warned) const {
  constexpr absl::string_view kLog = "cp";
  constexpr absl::Duration kWarnBefore = absl::Hours(24 * 30);
  const absl::Duration left = current_.not_after - now;
  if (left < kWarnBefore) {
    log::Warn(kLog,
              left <= absl::ZeroDuration() ? "cluster certificate has expired"
                                           : "cluster certificate expires in under 30 days",
              {{"subject", current_.subject}, {"not_after", absl::FormatTime(current_.not_after)}});
  }
  if (current_.key_readable_by_others && !key_warned) {
    log::Warn(kLog,
              "cluster certificate key is readable by its group or others; make it 0600 "
              "(0440 only where the group is tether's alone)",
              {{"path", options_.key_path}});
  }
}

}  // namespace tether::cp

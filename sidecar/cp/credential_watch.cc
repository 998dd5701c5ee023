#include "sidecar/cp/credential_watch.h"

#include <utility>

#include "absl/strings/str_cat.h"

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

}  // namespace tether::cp

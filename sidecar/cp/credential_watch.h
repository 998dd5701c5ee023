// CredentialWatch: decides what a fresh read of the cluster certificate files means - nothing
// changed, a valid rotation to pick up, or files that changed but must be refused - and warns
// about the set in use when an operator must act on it.
//
// Why apart from the session: the session only acts on the verdict (reconnect to present a new
// certificate, or report a refusal); the verdict itself is plain logic over file contents and
// the clock, tested without sockets.
//
// Threading: thread-compatible; the session uses it on its strand only.
#pragma once

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sidecar/cp/tls_context.h"
#include "sidecar/cp/tls_options.h"

namespace tether::cp {

class CredentialWatch {
 public:
  enum class Verdict {
    kUnchanged,     // the files are the ones in use
    kReverted,      // back to the files in use after a refused change: the refusal is over
    kRotated,       // a valid, unexpired new set is now current()
    kRefused,       // the files changed but cannot be used; refusal() says why (first time only)
    kStillRefused,  // the same refusal as last time, already reported
  };

  // `current` must be loaded from `options`.
  CredentialWatch(TlsOptions options, TlsCredentials current)
      : options_(std::move(options)), current_(std::move(current)) {}

  // Reads the files again and compares them with the credentials in use.
  Verdict Check(absl::Time now);

  const TlsCredentials& current() const { return current_; }
  // Logs a warning when current() expires within 30 days (or has expired), and when its key is
  // readable by others unless `key_warned` (the files are read every interval: a key mode is news
  // once, until a rotation brings a private key in between).
  void WarnAboutCurrent(absl::Time now, bool key_warned) const;
  // Why the files on disk are refused; ok when they are the ones in use.
  const absl::Status& refusal() const { return refusal_; }

 private:
  const TlsOptions options_;
  TlsCredentials current_;
  absl::Status refusal_;
};

}  // namespace tether::cp

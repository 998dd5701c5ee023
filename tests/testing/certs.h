// Throw-away certificates for TLS failure tests (expired, wrong name, rotated), made with OpenSSL
// at test time; the long-lived ones all tests share are in tests/fixtures/certs.
//
// Threading: thread-compatible.
#pragma once

#include <string>

#include "absl/time/time.h"

namespace tether::testing {

struct CertFiles {
  std::string cert_path;
  std::string key_path;
};

struct CertOptions {
  std::string common_name = "kong_clustering";
  // Validity relative to now; an expired certificate has both in the past.
  absl::Duration not_before = -absl::Hours(1);
  absl::Duration not_after = absl::Hours(24);
};

// A self-signed EC P-256 certificate (CA:TRUE, so it can be its own trust anchor, or a CA for
// MakeIssuedCert) and its key, written as <dir>/<name>.crt and <dir>/<name>.key.
CertFiles MakeSelfSignedCert(const std::string& dir, const std::string& name,
                             const CertOptions& options = {});

// As MakeSelfSignedCert, but a leaf (CA:FALSE) issued by `issuer`.
CertFiles MakeIssuedCert(const std::string& dir, const std::string& name, const CertFiles& issuer,
                         const CertOptions& options = {});

}  // namespace tether::testing

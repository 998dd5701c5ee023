// The TLS client context for the CP connection (kong-protocol.md §1.2).
//
// Why credentials in memory: the session loads and validates the files once (and again when they
// change on disk), and builds each attempt's context from the validated bytes. A rotation that
// leaves a broken pair on disk (a key that does not match, a half-written secret) is refused and
// the last good pair stays in use.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sidecar/common/asio.h"
#include "sidecar/cp/tls_options.h"

namespace tether::cp {

// The cluster certificate, its key and what the session trusts, as read from TlsOptions' files.
struct TlsCredentials {
  std::string cert_pem;   // the certificate chain presented to the CP
  std::string key_pem;    // its private key: never logged, never in an error
  std::string trust_pem;  // shared mode: the cluster certificate itself; pki mode: the CA
  // From the leaf certificate, for status, metrics and expiry warnings.
  absl::Time not_after = absl::InfinitePast();
  std::string subject;
  // The key file's mode lets its group or others read it (the session warns).
  bool key_readable_by_others = false;

  bool SameFiles(const TlsCredentials& other) const {
    return cert_pem == other.cert_pem && key_pem == other.key_pem && trust_pem == other.trust_pem;
  }
};

// Reads the files and checks that they make a usable context: the chain and the key parse, the
// key matches the certificate, the trusted certificates parse. Errors name the file that failed,
// never its contents. Expiry is not checked here (see the session), so that a cert that expired
// while tether was down still lets it start and serve its cache.
absl::StatusOr<TlsCredentials> LoadTlsCredentials(const TlsOptions& options);

// Builds a TLS 1.2+ client context that presents `credentials` and trusts exactly their trust_pem.
absl::StatusOr<ssl::context> MakeTlsContext(const TlsCredentials& credentials);

// Sets SNI (skipped for IP literals, as RFC 6066 requires) and the name or IP that certificate
// verification must match on `ssl`.
absl::Status ConfigureServerIdentity(SSL* ssl, const std::string& server_name);

}  // namespace tether::cp

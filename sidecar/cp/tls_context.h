// The TLS client context for the CP connection (kong-protocol.md §1.2).
//
// Why a fresh context per connection attempt: certificate files are re-read on every connect, so
// a rotated Kubernetes secret is presented on the next reconnect without a restart.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "sidecar/common/asio.h"
#include "sidecar/cp/tls_options.h"

namespace tether::cp {

// Builds a TLS 1.2+ client context that presents the cluster certificate and trusts exactly what
// `options.mode` says. Errors name the file that failed, never its contents.
absl::StatusOr<ssl::context> MakeTlsContext(const TlsOptions& options);

// Sets SNI (skipped for IP literals, as RFC 6066 requires) and the name or IP that certificate
// verification must match on `ssl`.
absl::Status ConfigureServerIdentity(SSL* ssl, const std::string& server_name);

}  // namespace tether::cp

// The TLS side of tether-devcp's listener: the server context with the CP certificate and the
// client verification of the chosen cluster_mtls mode (kong-protocol.md §1.2), and the
// certificate digest that shared mode compares.
//
// Why apart: certificate handling is plain OpenSSL and Asio's ssl::context, with no Beast; it
// is read and changed separately from the connection code.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <openssl/x509.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tools/devcp/control_plane.h"

namespace tether::devcp {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// The server context: TLS 1.2+, the CP certificate and key, and client verification as nginx
// does it in `options.mtls` mode. InvalidArgument for unreadable or mismatched files.
absl::StatusOr<boost::asio::ssl::context> MakeTlsContext(const Options& options);

// SHA-256 of the DER of the first certificate in the PEM file `path`: what §1.2 shared mode
// compares a DP certificate with.
absl::StatusOr<std::string> CertificateDigest(const std::string& path);

// SHA-256 of `cert`'s DER.
absl::StatusOr<std::string> Sha256Der(X509* cert);

}  // namespace tether::devcp

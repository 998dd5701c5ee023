// Mutual TLS for the gRPC API's TCP listeners (--grpc-tls-cert, --grpc-tls-key,
// --grpc-client-ca): the server presents its certificate and admits only clients whose
// certificate chains to the client CA.
//
// Why gRPC's FileWatcherCertificateProvider: it reads the files again on an interval and each new
// handshake uses what it read last, so a rotated Secret is picked up without a restart and
// without hand-rolled reload code; gRPC keeps the last good pair when a read fails. gRPC's TLS
// credentials negotiate TLS 1.2 at least (its default minimum; 1.51 has no public setter).
//
// Threading: thread-safe (a pure function; the provider runs on gRPC's own thread).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class ServerCredentials;
}  // namespace grpc

namespace tether::api {

struct TlsFiles {
  std::string cert_path;       // PEM certificate chain presented to clients
  std::string key_path;        // its private key: never read into a log or an error
  std::string client_ca_path;  // PEM CA(s) client certificates must chain to
  // How often the files are read again (whole seconds, at least one).
  absl::Duration refresh_interval = absl::Minutes(1);
};

// Checks now that the certificate and key parse and match and that the CA file holds a
// certificate, so that a wrong file fails start-up instead of every handshake; warns when the key
// is readable by its group or others. Errors name the file, never its contents.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeMutualTlsCredentials(
    const TlsFiles& files);

}  // namespace tether::api

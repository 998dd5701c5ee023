// MakeMutualTlsCredentials (see tls_credentials.h).
#include "sidecar/api/tls_credentials.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "sidecar/common/file_util.h"
#include "sidecar/common/log.h"

namespace tether::api {
namespace {

constexpr absl::string_view kLog = "api";

absl::Status CheckFiles(const TlsFiles& files) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        &SSL_CTX_free);
  absl::Status status;
  if (ctx == nullptr) {
    status = absl::InternalError("cannot make a TLS context");
  } else if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert_path.c_str()) != 1) {
    status = absl::InvalidArgumentError(
        absl::StrCat("--grpc-tls-cert ", files.cert_path, ": not a PEM certificate"));
  } else if (SSL_CTX_use_PrivateKey_file(ctx.get(), files.key_path.c_str(), SSL_FILETYPE_PEM) !=
             1) {
    status = absl::InvalidArgumentError(
        absl::StrCat("--grpc-tls-key ", files.key_path, ": not a PEM private key"));
  } else if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    status = absl::InvalidArgumentError(absl::StrCat(
        "--grpc-tls-key ", files.key_path, " does not match --grpc-tls-cert ", files.cert_path));
  } else if (SSL_CTX_load_verify_locations(ctx.get(), files.client_ca_path.c_str(), nullptr) != 1) {
    status = absl::InvalidArgumentError(
        absl::StrCat("--grpc-client-ca ", files.client_ca_path, ": no PEM certificate in it"));
  }
  // What OpenSSL queued may quote the files; it must not reach a later, unrelated error.
  ERR_clear_error();
  return status;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeMutualTlsCredentials(
    const TlsFiles& files) {
  if (absl::Status st = CheckFiles(files); !st.ok()) return st;
  if (ReadableByOthers(files.key_path)) {
    log::Warn(kLog,
              "grpc tls key is readable by its group or others; make it 0600 (0440 only where "
              "the group is tether's alone)",
              {{"path", files.key_path}});
  }
  const auto refresh =
      static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(files.refresh_interval)));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_path, files.cert_path, files.client_ca_path, refresh);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace tether::api

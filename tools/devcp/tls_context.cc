// See tls_context.h.
#include "tools/devcp/tls_context.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tether::devcp {

namespace ssl = boost::asio::ssl;

absl::StatusOr<std::string> Sha256Der(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &size) != 1) {
    return absl::InternalError("X509_digest failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), size);
}

// §1.2 shared mode compares the DP certificate with the CP's own: the first one in the file.
absl::StatusOr<std::string> CertificateDigest(const std::string& path) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (bio == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot open certificate ", path));
  }
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no PEM certificate in ", path));
  }
  return Sha256Der(cert.get());
}

absl::StatusOr<ssl::context> MakeTlsContext(const Options& options) {
  ssl::context context(ssl::context::tls_server);
  SSL_CTX* native = context.native_handle();
  // §1.2: lua_ssl_protocols = TLSv1.2 TLSv1.3.
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  boost::system::error_code ec;
  context.use_certificate_chain_file(options.cert_path, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load certificate ", options.cert_path, ": ", ec.message()));
  }
  context.use_private_key_file(options.key_path, ssl::context::pem, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load key ", options.key_path, ": ", ec.message()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("key ", options.key_path, " does not match certificate ", options.cert_path));
  }
  // Verifying clients makes OpenSSL require a session id context for session resumption.
  static constexpr unsigned char kSessionContext[] = "tether-devcp";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof(kSessionContext) - 1);
  if (options.mtls == MtlsMode::kShared) {
    // nginx's `ssl_verify_client optional_no_ca`: ask for a certificate and accept any; the
    // digest comparison after the handshake decides (Session::CheckClientCertificate).
    context.set_verify_mode(ssl::verify_peer, ec);
    if (!ec) context.set_verify_callback([](bool, ssl::verify_context&) { return true; }, ec);
  } else {
    // `ssl_verify_client on`, `ssl_client_certificate <ca>`, `ssl_verify_depth 4`.
    context.load_verify_file(options.ca_cert_path, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load CA certificate ", options.ca_cert_path, ": ", ec.message()));
    }
    // Like nginx, name the acceptable CAs in the CertificateRequest.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_cert_path.c_str());
    if (names == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("no CA certificate in ", options.ca_cert_path));
    }
    SSL_CTX_set_client_CA_list(native, names);
    context.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
    if (!ec) context.set_verify_depth(4, ec);
  }
  if (ec) return absl::InternalError(absl::StrCat("tls setup failed: ", ec.message()));
  return context;
}

}  // namespace tether::devcp

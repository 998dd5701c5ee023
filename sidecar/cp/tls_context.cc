#include "sidecar/cp/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "absl/strings/str_cat.h"
#include "protocol/constants.h"
#include "sidecar/common/file_util.h"

namespace tether::cp {
namespace {

// TLS 1.2 suites: ECDHE key exchange only, so a key leaked later cannot decrypt a recorded
// session, and AEAD ciphers only (no CBC). TLS 1.3's suites, set apart by OpenSSL, all are both.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

bool IsIpLiteral(const std::string& name) {
  boost::system::error_code ec;
  net::ip::make_address(name, ec);
  return !ec;
}

}  // namespace

absl::StatusOr<ssl::context> MakeTlsContext(const TlsCredentials& credentials) {
  ssl::context ctx(ssl::context::tls_client);
  // §1.2: lua_ssl_protocols = TLSv1.2 TLSv1.3.
  if (SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1) {
    return absl::InternalError("cannot require tls 1.2");
  }
  if (SSL_CTX_set_cipher_list(ctx.native_handle(), kTls12Ciphers) != 1) {
    ERR_clear_error();
    return absl::InternalError("cannot restrict the tls 1.2 ciphers");
  }
  boost::system::error_code ec;
  if (ctx.use_certificate_chain(net::buffer(credentials.cert_pem), ec); ec) {
    return absl::InvalidArgumentError(absl::StrCat("certificate: ", ec.message()));
  }
  if (ctx.use_private_key(net::buffer(credentials.key_pem), ssl::context::pem, ec); ec) {
    return absl::InvalidArgumentError(absl::StrCat("key: ", ec.message()));
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("key does not match the certificate");
  }
  // Shared mode trusts exactly the cluster certificate (Kong appends it to the trusted store);
  // pki mode trusts the cluster CA.
  if (ctx.add_certificate_authority(net::buffer(credentials.trust_pem), ec); ec) {
    return absl::InvalidArgumentError(absl::StrCat("trusted certificate: ", ec.message()));
  }
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

absl::StatusOr<TlsCredentials> LoadTlsCredentials(const TlsOptions& options) {
  // PEM files of a few KiB; the cap only stops a wrong path (a device, a huge file) early.
  constexpr size_t kMaxPemBytes = 1 << 20;
  const std::string& trust_path =
      options.mode == MtlsMode::kShared ? options.cert_path : options.ca_cert_path;
  TlsCredentials c;
  const struct {
    const std::string& path;
    std::string& out;
    absl::string_view what;
  } files[] = {{options.cert_path, c.cert_pem, "cluster certificate"},
               {options.key_path, c.key_pem, "cluster certificate key"},
               {trust_path, c.trust_pem, "trusted certificate"}};
  for (const auto& f : files) {
    absl::StatusOr<std::string> pem = ReadFileCapped(f.path, kMaxPemBytes);
    if (!pem.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ", f.what, " ", f.path, ": ", pem.status().message()));
    }
    f.out = *std::move(pem);
  }
  if (absl::StatusOr<ssl::context> ctx = MakeTlsContext(c); !ctx.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("cluster certificate ", options.cert_path,
                                                   " with key ", options.key_path, " and trust ",
                                                   trust_path, ": ", ctx.status().message()));
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(c.cert_pem.data(), static_cast<int>(c.cert_pem.size())), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> leaf(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  struct tm not_after {};
  if (leaf == nullptr || ASN1_TIME_to_tm(X509_get0_notAfter(leaf.get()), &not_after) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("cluster certificate ", options.cert_path, ": no readable notAfter"));
  }
  c.not_after = absl::FromTimeT(timegm(&not_after));
  c.key_readable_by_others = ReadableByOthers(options.key_path);
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(leaf.get()), subject, sizeof(subject));
  c.subject = subject;
  return c;
}

std::string ExpectedServerName(const TlsOptions& options, const std::string& cp_host) {
  if (options.mode == MtlsMode::kShared) return std::string(protocol::kSharedServerName);
  return options.server_name.empty() ? cp_host : options.server_name;
}

absl::Status ConfigureServerIdentity(SSL* ssl, const std::string& server_name) {
  if (IsIpLiteral(server_name)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("bad server ip ", server_name));
    }
    return absl::OkStatus();
  }
  if (SSL_set_tlsext_host_name(ssl, server_name.c_str()) != 1 ||
      SSL_set1_host(ssl, server_name.c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("bad server name ", server_name));
  }
  return absl::OkStatus();
}

}  // namespace tether::cp

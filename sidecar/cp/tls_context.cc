#include "sidecar/cp/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "protocol/constants.h"

namespace tether::cp {
namespace {

// OpenSSL's reason for the last failure, without file contents.
std::string LastSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

bool IsIpLiteral(const std::string& name) {
  boost::system::error_code ec;
  net::ip::make_address(name, ec);
  return !ec;
}

}  // namespace

absl::StatusOr<ssl::context> MakeTlsContext(const TlsOptions& options) {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX* native = ctx.native_handle();
  // §1.2: lua_ssl_protocols = TLSv1.2 TLSv1.3.
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return absl::InternalError("cannot require tls 1.2");
  }
  if (SSL_CTX_use_certificate_chain_file(native, options.cert_path.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load cluster certificate ", options.cert_path, ": ", LastSslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(native, options.key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load cluster certificate key ",
                                                   options.key_path, ": ", LastSslError()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("cluster certificate key ", options.key_path,
                                                   " does not match certificate ",
                                                   options.cert_path));
  }
  // Shared mode trusts exactly the cluster certificate (Kong appends it to the trusted store);
  // pki mode trusts the cluster CA.
  const std::string& trust =
      options.mode == MtlsMode::kShared ? options.cert_path : options.ca_cert_path;
  if (SSL_CTX_load_verify_locations(native, trust.c_str(), nullptr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load trusted certificate ", trust, ": ", LastSslError()));
  }
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  return ctx;
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

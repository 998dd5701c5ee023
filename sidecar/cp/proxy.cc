#include "sidecar/cp/proxy.h"

#include <openssl/ssl.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "sidecar/common/host_port.h"

namespace tether::cp {

std::string ProxyAddress(const ProxyOptions& proxy) { return JoinHostPort(proxy.host, proxy.port); }

std::string ProxyAuthorization(const ProxyOptions& proxy) {
  if (proxy.username.empty()) return "";
  return absl::StrCat("Basic ",
                      absl::Base64Escape(absl::StrCat(proxy.username, ":", proxy.password)));
}

absl::Status ConnectAnswerStatus(unsigned status, const ProxyOptions& proxy,
                                 absl::string_view target) {
  if (status >= 200 && status < 300) return absl::OkStatus();
  const std::string answered =
      absl::StrCat("proxy connect: proxy ", ProxyAddress(proxy), " answered ", status, " ",
                   std::string(http::obsolete_reason(http::int_to_status(status))));
  switch (status) {
    // 407 is the proxy's answer to missing or wrong credentials (RFC 9110 §15.5.8); some proxies,
    // tinyproxy among them, answer wrong ones with 401.
    case 401:
    case 407:
      return absl::FailedPreconditionError(absl::StrCat(
          answered, proxy.username.empty() ? " (--proxy-server has no user:password)"
                                           : " (check the user:password in --proxy-server)"));
    case 403:
      return absl::FailedPreconditionError(
          absl::StrCat(answered, " (the proxy does not allow a tunnel to ", target, ")"));
    default:
      if (status >= 400 && status < 500) return absl::FailedPreconditionError(answered);
      return absl::UnavailableError(answered);
  }
}

absl::StatusOr<ssl::context> MakeProxyTlsContext(const ProxyOptions& proxy) {
  ssl::context ctx(ssl::context::tls_client);
  if (SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1) {
    return absl::InternalError("cannot require tls 1.2");
  }
  if (!proxy.verify_tls) {
    ctx.set_verify_mode(ssl::verify_none);
    return ctx;
  }
  boost::system::error_code ec;
  ctx.set_default_verify_paths(ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot load the system's trusted CAs for the "
                     "proxy: ",
                     ec.message()));
  }
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

}  // namespace tether::cp

// The pieces of the CONNECT step that need no socket: the Proxy-Authorization value, what the
// proxy's answer means, and the TLS context for an https proxy. The step itself (TLS to the proxy,
// CONNECT, then the CP's TLS inside the tunnel) is part of the session's connect, in session.cc.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sidecar/common/asio.h"
#include "sidecar/cp/proxy_options.h"

namespace tether::cp {

// "host:port" of the proxy (IPv6 in brackets), for logs and errors: never the credentials.
std::string ProxyAddress(const ProxyOptions& proxy);

// "Basic <base64(user:password)>" (RFC 7617), or empty when there is no user name.
std::string ProxyAuthorization(const ProxyOptions& proxy);

// What the proxy's answer to CONNECT `target` means: ok for 2xx; otherwise an error naming the
// status with its standard reason (never the proxy's own text, which we do not control) and what
// to check (credentials for 401 and 407). 4xx (the proxy refuses us) is FailedPrecondition,
// anything else Unavailable.
absl::Status ConnectAnswerStatus(unsigned status, const ProxyOptions& proxy,
                                 absl::string_view target);

// A TLS 1.2+ client context for an https proxy: the system's CAs, and peer verification unless
// verify_tls is false.
absl::StatusOr<ssl::context> MakeProxyTlsContext(const ProxyOptions& proxy);

}  // namespace tether::cp

// Where the HTTP CONNECT forward proxy between tether and the CP is, and how to authenticate to
// it: Kong's cluster_use_proxy and proxy_server (kong-protocol.md §1.1). Kept free of Asio so that
// session.h stays cheap; proxy.h has the functions that go with it.
#pragma once

#include <cstdint>
#include <string>

namespace tether::cp {

struct ProxyOptions {
  enum class Scheme { kHttp, kHttps };
  Scheme scheme = Scheme::kHttp;
  std::string host;  // a hostname or IP address (IPv6 without brackets)
  uint16_t port = 0;
  // Basic credentials, already percent-decoded; no Proxy-Authorization when username is empty.
  // Secrets: never logged, never in an error or a status.
  std::string username;
  std::string password;
  // kHttps only: verify the proxy's certificate against the system's CAs and its host name.
  bool verify_tls = true;
};

}  // namespace tether::cp

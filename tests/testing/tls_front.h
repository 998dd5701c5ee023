// TlsFront: a TLS terminator on 127.0.0.1 that relays the plaintext to another loopback port. Put
// in front of tinyproxy, it makes an https forward proxy (Kong runs its own terminator for https
// proxies; tinyproxy speaks only plain HTTP).
//
// Threading: thread-safe. An accept thread and one thread per connection; the destructor wakes
// and joins them all. mu_ guards the connection list and the counters.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "sidecar/common/mutex.h"
#include "tests/testing/certs.h"

namespace tether::testing {

class TlsFront {
 public:
  // Serves TLS with `cert` on an ephemeral loopback port and relays each connection to
  // 127.0.0.1:upstream_port.
  TlsFront(uint16_t upstream_port, const CertFiles& cert);
  ~TlsFront();
  TlsFront(const TlsFront&) = delete;
  TlsFront& operator=(const TlsFront&) = delete;

  uint16_t port() const { return port_; }
  // TLS handshakes completed and failed so far.
  int handshakes() const;
  int failed_handshakes() const;

 private:
  void Accept();
  void Relay(int client_fd);

  const uint16_t upstream_port_;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_{nullptr, SSL_CTX_free};
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // closed by the destructor: every poll sees it
  uint16_t port_ = 0;

  mutable Mutex mu_;
  std::vector<std::thread> relays_ ABSL_GUARDED_BY(mu_);
  std::vector<int> client_fds_ ABSL_GUARDED_BY(mu_);  // shut down by the destructor
  int handshakes_ ABSL_GUARDED_BY(mu_) = 0;
  int failed_handshakes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::thread acceptor_;  // last: starts once everything above is ready
};

}  // namespace tether::testing

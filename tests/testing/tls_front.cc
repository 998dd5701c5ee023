#include "tests/testing/tls_front.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "gtest/gtest.h"

namespace tether::testing {
namespace {

int ConnectLoopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

TlsFront::TlsFront(uint16_t upstream_port, const CertFiles& cert) : upstream_port_(upstream_port) {
  // OpenSSL's socket BIO writes without MSG_NOSIGNAL: an SSL_write to a client that has just
  // closed (tether reconnecting) would kill the whole test process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  ctx_.reset(SSL_CTX_new(TLS_server_method()));
  EXPECT_EQ(SSL_CTX_use_certificate_chain_file(ctx_.get(), cert.cert_path.c_str()), 1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx_.get(), cert.key_path.c_str(), SSL_FILETYPE_PEM), 1);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  EXPECT_EQ(::listen(listen_fd_, 16), 0);
  EXPECT_EQ(::pipe2(wake_, O_CLOEXEC), 0);
  acceptor_ = std::thread([this] { Accept(); });
}

TlsFront::~TlsFront() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    // Unblocks a relay stuck in a TLS read or write; the wake pipe unblocks the polls.
    for (int fd : client_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  ::close(wake_[1]);
  acceptor_.join();
  std::vector<std::thread> relays;
  {
    MutexLock lock(&mu_);
    relays.swap(relays_);
  }
  for (std::thread& t : relays) t.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
}

int TlsFront::handshakes() const {
  MutexLock lock(&mu_);
  return handshakes_;
}

int TlsFront::failed_handshakes() const {
  MutexLock lock(&mu_);
  return failed_handshakes_;
}

void TlsFront::Accept() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    MutexLock lock(&mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    client_fds_.push_back(fd);
    relays_.emplace_back([this, fd] { Relay(fd); });
  }
}

void TlsFront::Relay(int client_fd) {
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx_.get()), SSL_free);
  SSL_set_fd(ssl.get(), client_fd);
  const bool handshaken = SSL_accept(ssl.get()) == 1;
  {
    MutexLock lock(&mu_);
    ++(handshaken ? handshakes_ : failed_handshakes_);
  }
  const int upstream_fd = handshaken ? ConnectLoopback(upstream_port_) : -1;
  char buf[16384];
  while (upstream_fd >= 0) {
    pollfd fds[3] = {{client_fd, POLLIN, 0}, {upstream_fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    // Bytes OpenSSL already decrypted do not make the socket readable.
    if (SSL_pending(ssl.get()) == 0 && ::poll(fds, 3, -1) < 0 && errno != EINTR) break;
    if (fds[2].revents != 0) break;
    if (SSL_pending(ssl.get()) > 0 || fds[0].revents != 0) {
      const int n = SSL_read(ssl.get(), buf, sizeof(buf));
      if (n <= 0 || !WriteAll(upstream_fd, buf, static_cast<size_t>(n))) break;
    }
    if (fds[1].revents != 0) {
      const ssize_t n = ::read(upstream_fd, buf, sizeof(buf));
      if (n <= 0 || SSL_write(ssl.get(), buf, static_cast<int>(n)) <= 0) break;
    }
  }
  if (upstream_fd >= 0) ::close(upstream_fd);
  MutexLock lock(&mu_);
  // The destructor may be shutting the descriptor down; it is closed only here, under mu_.
  std::erase(client_fds_, client_fd);
  ::close(client_fd);
}

}  // namespace tether::testing

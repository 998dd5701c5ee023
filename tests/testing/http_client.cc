#include "tests/testing/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace tether::testing {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// "127.0.0.1:80" or "[::1]:80" into a socket address.
absl::StatusOr<sockaddr_storage> ParseAddress(absl::string_view address, socklen_t* len) {
  absl::string_view host = address;
  absl::string_view port;
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return absl::InvalidArgumentError("want host:port");
  host = address.substr(0, colon);
  port = address.substr(colon + 1);
  absl::ConsumePrefix(&host, "[");
  absl::ConsumeSuffix(&host, "]");
  int port_number = 0;
  if (!absl::SimpleAtoi(port, &port_number)) return absl::InvalidArgumentError("bad port");
  sockaddr_storage storage{};
  const std::string h(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port_number));
    *len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port_number));
    *len = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("not an ip address: ", h));
  }
  return storage;
}

// Waits until `fd` is ready for `events` or `deadline` passes.
absl::Status Await(int fd, short events, absl::Time deadline) {
  while (true) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return absl::UnavailableError("timed out");
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(ms));
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR) return Errno("poll");
  }
}

}  // namespace

Socket::Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Socket::~Socket() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<Socket> Connect(const std::string& address, const HttpOptions& options) {
  const absl::Time deadline = absl::Now() + options.timeout;
  socklen_t len = 0;
  absl::StatusOr<sockaddr_storage> peer = ParseAddress(address, &len);
  if (!peer.ok()) return peer.status();
  Socket fd(::socket(peer->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return Errno("socket");
  if (!options.source_ip.empty()) {
    socklen_t source_len = 0;
    absl::StatusOr<sockaddr_storage> source =
        ParseAddress(absl::StrCat(options.source_ip, ":0"), &source_len);
    if (!source.ok()) return source.status();
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&*source), source_len) != 0) {
      return Errno("bind");
    }
  }
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&*peer), len) != 0) {
    if (errno != EINPROGRESS) return Errno("connect");
    if (absl::Status st = Await(fd.get(), POLLOUT, deadline); !st.ok()) return st;
    int error = 0;
    socklen_t error_len = sizeof(error);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &error_len);
    if (error != 0) {
      errno = error;
      return Errno("connect");
    }
  }
  return fd;
}

bool AwaitClosed(const Socket& socket, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char byte;
  while (Await(socket.get(), POLLIN, deadline).ok()) {
    const ssize_t n = ::recv(socket.get(), &byte, 1, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n > 0) return false;
  }
  return false;
}

absl::StatusOr<std::string> HttpExchange(const std::string& address, absl::string_view raw,
                                         const HttpOptions& options) {
  const absl::Time deadline = absl::Now() + options.timeout;
  absl::StatusOr<Socket> fd = Connect(address, options);
  if (!fd.ok()) return fd.status();
  size_t written = 0;
  while (written < raw.size()) {
    const ssize_t n = ::send(fd->get(), raw.data() + written, raw.size() - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (errno == EAGAIN) {
      if (absl::Status st = Await(fd->get(), POLLOUT, deadline); !st.ok()) return st;
      continue;
    }
    // The server may answer and close before reading everything (an oversized header).
    if (errno == EPIPE || errno == ECONNRESET) break;
    return Errno("send");
  }
  std::string out;
  char buf[16384];
  while (true) {
    if (absl::Status st = Await(fd->get(), POLLIN, deadline); !st.ok()) return st;
    const ssize_t n = ::recv(fd->get(), buf, sizeof(buf), 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno == ECONNRESET) {
      return out;
    } else if (errno != EAGAIN && errno != EINTR) {
      return Errno("recv");
    }
  }
}

absl::StatusOr<std::vector<HttpResponse>> ParseHttpResponses(absl::string_view bytes) {
  std::vector<HttpResponse> responses;
  while (!bytes.empty()) {
    const size_t end = bytes.find("\r\n\r\n");
    if (end == absl::string_view::npos) return absl::DataLossError("incomplete response head");
    std::vector<absl::string_view> lines = absl::StrSplit(bytes.substr(0, end), "\r\n");
    bytes.remove_prefix(end + 4);
    HttpResponse r;
    std::vector<absl::string_view> status_line = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
    if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &r.status)) {
      return absl::DataLossError(absl::StrCat("bad status line: ", lines[0]));
    }
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == absl::string_view::npos) continue;
      r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    size_t length = 0;
    if (auto it = r.headers.find("content-length");
        it != r.headers.end() && !absl::SimpleAtoi(it->second, &length)) {
      return absl::DataLossError("bad content-length");
    }
    if (bytes.size() < length) return absl::DataLossError("truncated body");
    r.body = std::string(bytes.substr(0, length));
    bytes.remove_prefix(length);
    responses.push_back(std::move(r));
  }
  return responses;
}

absl::StatusOr<HttpResponse> HttpRequest(const std::string& address, absl::string_view method,
                                         absl::string_view path, const HttpOptions& options) {
  std::string request = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: ", address,
                                     "\r\nConnection: close\r\nContent-Length: 0\r\n");
  for (const std::string& header : options.headers) absl::StrAppend(&request, header, "\r\n");
  request.append("\r\n");
  absl::StatusOr<std::string> raw = HttpExchange(address, request, options);
  if (!raw.ok()) return raw.status();
  absl::StatusOr<std::vector<HttpResponse>> responses = ParseHttpResponses(*raw);
  if (!responses.ok()) return responses.status();
  if (responses->size() != 1) {
    return absl::DataLossError(absl::StrCat(responses->size(), " responses to one request"));
  }
  return std::move(responses->front());
}

}  // namespace tether::testing

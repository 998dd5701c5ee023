// A minimal blocking HTTP/1.1 client over a raw TCP socket, for tests of the ops listener: real
// requests on loopback, malformed or oversized ones that a proper client would refuse to send, and
// idle connections.
//
// Threading: thread-compatible (no shared state).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tether::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

struct HttpOptions {
  // Bounds connect, write and every read.
  absl::Duration timeout = absl::Seconds(30);
  // Connect from this local IP address (e.g. a non-loopback one); empty: the kernel's choice.
  std::string source_ip;
  // Added to HttpRequest's request, each a "Name: value" line without CRLF.
  std::vector<std::string> headers;
};

// A TCP socket (non-blocking), closed on destruction.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  ~Socket();
  int get() const { return fd_; }

 private:
  int fd_;
};

// Connects to `address` ("127.0.0.1:8100" or "[::1]:8100") and sends nothing: an idle client.
absl::StatusOr<Socket> Connect(const std::string& address, const HttpOptions& options = {});

// Whether the server closes `socket` (end of stream or reset) within `timeout`; false also when
// it sends something instead.
bool AwaitClosed(const Socket& socket, absl::Duration timeout);

// Sends `raw` to `address` ("127.0.0.1:8100" or "[::1]:8100"), half-closes nothing, and reads
// until the server closes the connection. Unavailable for connect or I/O failures, including a
// read that timed out.
absl::StatusOr<std::string> HttpExchange(const std::string& address, absl::string_view raw,
                                         const HttpOptions& options = {});

// One request with "Connection: close" and an empty body.
absl::StatusOr<HttpResponse> HttpRequest(const std::string& address, absl::string_view method,
                                         absl::string_view path, const HttpOptions& options = {});

// Splits the bytes of one or more responses read from a connection (Content-Length framed).
absl::StatusOr<std::vector<HttpResponse>> ParseHttpResponses(absl::string_view bytes);

}  // namespace tether::testing

// TinyProxy: a real HTTP CONNECT forward proxy (Debian's tinyproxy) on 127.0.0.1, run by a test
// in the foreground with a generated config, for the forward proxy tests.
//
// Why a packaged proxy and not one of ours: the point is to meet a proxy written by others, with
// its own reading of CONNECT and Proxy-Authorization.
//
// Threading: thread-safe (the process's output is collected by ChildProcess).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/testing/child_process.h"
#include "tests/testing/testing.h"

namespace tether::testing {

class TinyProxy {
 public:
  struct Options {
    // The ports CONNECT may reach (ConnectPort); every port when empty.
    std::vector<uint16_t> connect_ports;
    // BasicAuth: when user is set, every request needs these credentials.
    std::string user;
    std::string password;
  };

  // Starts tinyproxy on a free loopback port and returns once it accepts connections. NotFound
  // when tinyproxy is not installed (tests skip then); Internal when it does not come up.
  static absl::StatusOr<std::unique_ptr<TinyProxy>> Start(const Options& options);

  uint16_t port() const { return port_; }
  // Everything the proxy logged so far (its stdout and stderr).
  std::string Log() const { return process_->Output(); }
  // Waits until a log line contains `needle`; false after `timeout`.
  bool WaitForLog(absl::string_view needle, absl::Duration timeout) const {
    return process_->AwaitLine(needle, timeout).has_value();
  }

 private:
  TinyProxy() = default;

  TempDir dir_;  // holds the config file
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;  // killed and reaped on destruction
};

}  // namespace tether::testing

#include "tests/testing/tinyproxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tether::testing {
namespace {

// Debian installs it in /usr/bin; older releases had /usr/sbin, which is not in every PATH.
std::string FindTinyproxy() {
  std::vector<std::string> dirs = {"/usr/bin", "/usr/sbin"};
  if (const char* path = std::getenv("PATH")) {
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      dirs.emplace_back(dir);
    }
  }
  for (const std::string& dir : dirs) {
    const std::string candidate = dir + "/tinyproxy";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// A loopback port free right now. tinyproxy needs a number, so another process could take it
// before tinyproxy binds it; Start then tries another.
uint16_t FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// What tinyproxy logs once it listens.
constexpr absl::string_view kReady = "Accepting connections";
constexpr absl::Duration kStartTimeout = absl::Seconds(30);
constexpr int kStartAttempts = 3;

}  // namespace

absl::StatusOr<std::unique_ptr<TinyProxy>> TinyProxy::Start(const Options& options) {
  const std::string binary = FindTinyproxy();
  if (binary.empty()) {
    return absl::NotFoundError("tinyproxy is not installed (scripts/deps installs tinyproxy-bin)");
  }
  std::string last_log;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    std::unique_ptr<TinyProxy> proxy(new TinyProxy());
    proxy->port_ = FreeLoopbackPort();
    // LogLevel Info includes the Connect level, which logs each request line.
    std::string config = absl::StrCat("Port ", proxy->port_,
                                      "\n"
                                      "Listen 127.0.0.1\n"
                                      "Timeout 30\n"
                                      "MaxClients 20\n"
                                      "Allow 127.0.0.1\n"
                                      "LogLevel Info\n");
    for (uint16_t port : options.connect_ports)
      absl::StrAppend(&config, "ConnectPort ", port, "\n");
    if (!options.user.empty()) {
      absl::StrAppend(&config, "BasicAuth ", options.user, " ", options.password, "\n");
    }
    const std::string config_path = proxy->dir_.path() + "/tinyproxy.conf";
    std::ofstream(config_path) << config;
    // -d: stay in the foreground, logging to stdout.
    auto process = ChildProcess::Start({binary, "-d", "-c", config_path});
    if (!process.ok()) return process.status();
    proxy->process_ = *std::move(process);
    // Returns early when tinyproxy exits (e.g. the port was taken meanwhile).
    if (proxy->process_->AwaitLine(kReady, kStartTimeout).has_value()) return proxy;
    last_log = proxy->Log();
  }
  return absl::InternalError(absl::StrCat("tinyproxy did not start; its log:\n", last_log));
}

}  // namespace tether::testing

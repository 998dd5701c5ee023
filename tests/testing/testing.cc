#include "tests/testing/testing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "sidecar/settings/flags.h"
#include "sidecar/settings/node_identity.h"

namespace tether::testing {
namespace {

// Binds a TCP socket to 127.0.0.1 on an ephemeral port.
int BindLoopback(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  *port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

std::string Fixture(absl::string_view relative) {
  return absl::StrCat(TETHER_FIXTURES_DIR, "/", relative);
}

std::string SourceFile(absl::string_view relative) {
  return absl::StrCat(TETHER_SOURCE_DIR, "/", relative);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool AwaitUntil(const std::function<bool()>& pred, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!pred()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tether-test.XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  EXPECT_NE(made, nullptr);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

settings::Settings TestSettings(uint16_t cp_port, const std::string& data_dir,
                                const std::vector<std::string>& extra_flags) {
  std::vector<std::string> args = {
      "tether",
      absl::StrCat("--cluster-control-plane=127.0.0.1:", cp_port),
      "--cluster-mtls=shared",
      "--cluster-cert=" + Fixture("certs/kong_clustering.crt"),
      "--cluster-cert-key=" + Fixture("certs/kong_clustering.key"),
      "--data-dir=" + data_dir,
      "--node-hostname=dp-test.local",
      // devcp's default; the version search has tests of its own.
      "--node-version=3.10.0",
      "--ping-interval=1s",
      "--ping-timeout=10s",
      "--connect-timeout=10s",
      "--reconnect-backoff-min=10ms",
      "--reconnect-backoff-max=50ms",
      // A free port, so tests can run side by side; no drain, which only the drain tests want.
      "--ops-listen=127.0.0.1:0",
      "--drain-time=0s",
  };
  args.insert(args.end(), extra_flags.begin(), extra_flags.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  auto parsed =
      settings::ParseSettings(static_cast<int>(argv.size()), argv.data(), settings::MapEnv({}));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return {};
  settings::Settings& s = std::get<settings::Settings>(*parsed);
  // The data dir and node id, as main does.
  const absl::Status prepared = settings::PrepareNode(s);
  EXPECT_TRUE(prepared.ok()) << prepared;
  return std::move(s);
}

SilentListener::SilentListener() {
  fd_ = BindLoopback(&port_);
  EXPECT_EQ(listen(fd_, 16), 0);
}

SilentListener::~SilentListener() { close(fd_); }

RefusingPort::RefusingPort() { fd_ = BindLoopback(&port_); }

RefusingPort::~RefusingPort() { close(fd_); }

}  // namespace tether::testing

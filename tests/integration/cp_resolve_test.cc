// How the session finds the CP: the name is resolved again on every connection attempt, and each
// address it resolves to is tried in turn until one accepts. A bare cp::Session (whose resolver
// can be replaced, since a loopback peer cannot change what a name resolves to) and the App with
// the system's resolver, both against tether-devcp on loopback.
#include <netdb.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/common/log.h"
#include "tests/integration/session_harness.h"
#include "tests/testing/app_fixture.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/testing.h"
#include "tools/devcp/control_plane.h"

namespace tether {
namespace {

using devcp::EventKind;
using devcp::OfKind;
using ::testing::HasSubstr;
using testing::kWait;
using ::testing::SizeIs;

bool IsConnected(const status::ConnectionInfo& info) {
  return info.state == status::ConnectionState::kConnected;
}

// A cp::Session against tether-devcp on 127.0.0.1, under the name "cp.test" that only the test's
// resolver knows.
class SessionResolveTest : public testing::SessionTest {
 protected:
  void SetUp() override {
    StartCp();
    SessionTest::SetUp();
  }

  void TearDown() override {
    SessionTest::TearDown();
    log::SetLevel(log::Level::kInfo);
  }

  // Starts the session with `resolve` standing in for DNS.
  void StartSession(
      std::function<absl::StatusOr<std::vector<std::string>>(const std::string&)> resolve) {
    cp::SessionOptions o = Options("cp.test", cp_->port());
    o.resolve_for_test = std::move(resolve);
    SessionTest::StartSession(std::move(o));
  }

  std::string At(absl::string_view ip) const { return absl::StrCat(ip, ":", cp_->port()); }
};

// The name resolves to an address where nothing listens (127.0.0.2: all of 127/8 is loopback),
// then to devcp's: the first is refused and the second accepted, within one attempt.
TEST_F(SessionResolveTest, TriesEachResolvedAddressInTurn) {
  log::SetLevel(log::Level::kDebug);
  testing::LogCapture logs;
  StartSession([](const std::string&) -> absl::StatusOr<std::vector<std::string>> {
    return std::vector<std::string>{"127.0.0.2", "127.0.0.1"};
  });
  const status::ConnectionInfo info = recorder_.Await(IsConnected);
  EXPECT_EQ(info.attempts, 1u);
  EXPECT_EQ(info.peer, At("127.0.0.1"));
  EXPECT_THAT(logs.LinesWith("cp: resolved host=cp.test"), SizeIs(1));
  const std::vector<std::string> tries = logs.LinesWith("cp: connecting endpoint=");
  ASSERT_THAT(tries, SizeIs(2));
  EXPECT_THAT(tries[0], HasSubstr(At("127.0.0.2")));
  EXPECT_THAT(tries[1], HasSubstr(At("127.0.0.1")));
}

// The resolver is asked again on every attempt, after failed attempts and after a connection the
// CP closed: the name moves from a dead address to devcp's and is followed.
TEST_F(SessionResolveTest, ResolvesAgainOnEveryAttempt) {
  std::atomic<int> calls{0};
  StartSession([&calls](const std::string& host) -> absl::StatusOr<std::vector<std::string>> {
    EXPECT_EQ(host, "cp.test");
    return std::vector<std::string>{++calls <= 2 ? "127.0.0.2" : "127.0.0.1"};
  });
  status::ConnectionInfo info = recorder_.Await(IsConnected);
  EXPECT_EQ(info.attempts, 3u);
  EXPECT_EQ(calls.load(), 3);

  ASSERT_TRUE(cp_->WaitForEvent(OfKind(EventKind::kConnected), kWait));
  cp_->CloseAll();
  ASSERT_TRUE(cp_->WaitForEventCount(OfKind(EventKind::kConnected), 2, kWait));
  info = recorder_.Await(
      [](const status::ConnectionInfo& i) { return IsConnected(i) && i.attempts == 4; });
  EXPECT_EQ(calls.load(), 4);
}

// When every address fails, the error names each one with its failure.
TEST_F(SessionResolveTest, ErrorNamesEveryAddressTried) {
  StartSession([](const std::string&) -> absl::StatusOr<std::vector<std::string>> {
    return std::vector<std::string>{"127.0.0.2", "127.0.0.3"};
  });
  const status::ConnectionInfo info =
      recorder_.Await([](const status::ConnectionInfo& i) { return !i.last_error.ok(); });
  EXPECT_EQ(info.last_error.message(),
            absl::StrCat("connect: each of 2 addresses failed: ", At("127.0.0.2"),
                         ": Connection refused, ", At("127.0.0.3"), ": Connection refused"));
}

// The IP addresses the system resolver gives for `name`, in its order, without repeats.
std::vector<std::string> SystemResolve(const char* name) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  std::vector<std::string> addresses;
  if (::getaddrinfo(name, nullptr, &hints, &result) != 0) return addresses;
  for (addrinfo* a = result; a != nullptr; a = a->ai_next) {
    char host[NI_MAXHOST];
    if (::getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) !=
        0) {
      continue;
    }
    if (std::find(addresses.begin(), addresses.end(), host) == addresses.end()) {
      addresses.emplace_back(host);
    }
  }
  ::freeaddrinfo(result);
  return addresses;
}

class AppResolveTest : public testing::AppTest {
 protected:
  void TearDown() override {
    AppTest::TearDown();
    log::SetLevel(log::Level::kInfo);
  }
};

// With the system resolver: where localhost resolves to several addresses (::1 and 127.0.0.1 on
// most machines), devcp listens on the last one only, and tether gets there past the others.
TEST_F(AppResolveTest, LocalhostReachesTheAddressThatAccepts) {
  const std::vector<std::string> addresses = SystemResolve("localhost");
  if (addresses.size() < 2) {
    GTEST_SKIP() << "localhost resolves to " << addresses.size()
                 << " address(es) here; this test needs at least two";
  }
  devcp::Options o;
  o.listen_host = addresses.back();
  o.cert_path = testing::Fixture("certs/kong_clustering.crt");
  o.key_path = testing::Fixture("certs/kong_clustering.key");
  StartCpWith(o);
  StartApp({absl::StrCat("--cluster-control-plane=localhost:", cp_->port())});
  const status::StatusView view = AwaitStatus([](const status::StatusView& v) {
    return v.connection.state == status::ConnectionState::kConnected;
  });
  const bool v6 = addresses.back().find(':') != std::string::npos;
  EXPECT_EQ(view.connection.peer, v6 ? absl::StrCat("[", addresses.back(), "]:", cp_->port())
                                     : absl::StrCat(addresses.back(), ":", cp_->port()));
  EXPECT_EQ(view.connection.attempts, 1u);
}

// With the system resolver, every attempt resolves the name again (each logs what it got).
TEST_F(AppResolveTest, SystemResolverIsAskedOnEveryAttempt) {
  log::SetLevel(log::Level::kDebug);
  testing::LogCapture logs;
  testing::RefusingPort refusing;
  StartAppAt(refusing.port(),
             {absl::StrCat("--cluster-control-plane=localhost:", refusing.port())});
  const status::StatusView view =
      AwaitStatus([](const status::StatusView& v) { return v.connection.attempts >= 4; });
  EXPECT_THAT(std::string(view.connection.last_error.message()), HasSubstr("connect: "));
  // The fourth attempt has begun, so at least three have resolved.
  EXPECT_TRUE(logs.WaitForLines("cp: resolved host=localhost", 3, kWait));
}

}  // namespace
}  // namespace tether

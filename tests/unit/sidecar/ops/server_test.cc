// ops::Server over real HTTP on loopback: routes and methods, readiness from a real StatusBoard,
// /shutdown's caller rules, request limits, keep-alive, and /livez against real loops blocked on
// purpose. Every wait is for an answer or an event under a deadline.
#include "sidecar/ops/server.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/common/mutex.h"
#include "sidecar/common/worker_heartbeat.h"
#include "tests/testing/http_client.h"

namespace tether::ops {
namespace {

using ::testing::HasSubstr;
using testing::HttpExchange;
using testing::HttpRequest;
using testing::HttpResponse;
using ::testing::StartsWith;

constexpr absl::Duration kWait = absl::Seconds(30);
// What a deliberate caller of POST /shutdown adds (README).
constexpr char kShutdownHeader[] = "X-Tether-Shutdown: 1";

// An event loop on its own thread: runs posted tasks in order, like the App's CP io_context.
class TaskLoop {
 public:
  TaskLoop() : thread_([this] { Run(); }) {}
  ~TaskLoop() {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }

  void Post(std::function<void()> task) {
    MutexLock lock(&mu_);
    tasks_.push_back(std::move(task));
  }

  WatchedLoop Watched(std::string name, absl::Duration timeout) {
    return {std::move(name), [this](std::function<void()> beat) { Post(std::move(beat)); },
            timeout};
  }

 private:
  void Run() {
    while (true) {
      std::function<void()> task;
      {
        MutexLock lock(&mu_);
        mu_.Await([this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// A non-loopback IPv4 address of this host, to connect from as a pod-network peer would.
std::optional<std::string> NonLoopbackIpv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (ifaddrs* a = list; a != nullptr && !found; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    const in_addr ip = reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr;
    if ((ntohl(ip.s_addr) >> 24) == 127) continue;
    char text[INET_ADDRSTRLEN];
    found = ::inet_ntop(AF_INET, &ip, text, sizeof(text));
  }
  ::freeifaddrs(list);
  return found;
}

config::SnapshotPtr AnySnapshot() {
  auto s = std::make_shared<config::Snapshot>();
  s->config_hash = std::string(32, 'b');
  return s;
}

class OpsServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = {}) {
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(std::move(options), board_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  HttpResponse Send(absl::string_view method, absl::string_view path) {
    absl::StatusOr<HttpResponse> response = HttpRequest(server_->address(), method, path);
    EXPECT_TRUE(response.ok()) << method << " " << path << ": " << response.status();
    return response.ok() ? *std::move(response) : HttpResponse{};
  }
  HttpResponse Get(absl::string_view path) { return Send("GET", path); }

  // POST /shutdown with these header lines, from `source_ip` (empty: the kernel's choice).
  HttpResponse Shutdown(std::vector<std::string> headers, std::string source_ip = "") {
    testing::HttpOptions options;
    options.headers = std::move(headers);
    options.source_ip = std::move(source_ip);
    absl::StatusOr<HttpResponse> response =
        HttpRequest(server_->address(), "POST", "/shutdown", options);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *std::move(response) : HttpResponse{};
  }

  // Asks `path` until it answers `status`, or fails the test after kWait. A connection closed
  // unanswered counts as another answer.
  HttpResponse AwaitStatus(absl::string_view path, int status) {
    const absl::Time deadline = absl::Now() + kWait;
    HttpResponse last;
    while (absl::Now() < deadline) {
      absl::StatusOr<HttpResponse> r = HttpRequest(server_->address(), "GET", path);
      if (!r.ok()) continue;
      last = *std::move(r);
      if (last.status == status) return last;
    }
    ADD_FAILURE() << path << " never answered " << status << "; last: " << last.status << " "
                  << last.body;
    return last;
  }

  status::StatusBoard board_;
  std::unique_ptr<Server> server_;
};

// Port 0 picks a free port, and address() reports it.
TEST_F(OpsServerTest, ReportsTheBoundAddress) {
  Start();
  EXPECT_NE(server_->port(), 0);
  EXPECT_EQ(server_->address(), absl::StrCat("127.0.0.1:", server_->port()));
}

// /readyz says 503 with the board's reason until a config is applied, 200 with one, and 503
// "draining" once draining.
TEST_F(OpsServerTest, ReadyzFollowsTheBoard) {
  Start();
  HttpResponse r = Get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, StartsWith("no config yet"));
  EXPECT_EQ(r.headers["content-type"], "text/plain; charset=utf-8");
  board_.RecordApplied(AnySnapshot(), absl::Now());
  r = Get("/readyz");
  EXPECT_EQ(r.status, 200);
  board_.SetDraining();
  r = Get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, StartsWith("draining"));
}

// /metrics answers in the Prometheus text format, rendered from the board.
TEST_F(OpsServerTest, MetricsServesTheTextFormat) {
  Start();
  board_.RecordApplied(AnySnapshot(), absl::Now());
  HttpResponse r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(r.body, HasSubstr("\ntether_config_applies_total 1\n"));
}

// With every loop running, /livez answers 200 naming the loops it checked.
TEST_F(OpsServerTest, LivezIsOkWhileLoopsRespond) {
  TaskLoop loop;
  WorkerHeartbeat worker;
  ServerOptions options;
  options.loops = {loop.Watched("io", kWait),
                   {"decoder", [&](std::function<void()> b) { worker.Post(std::move(b)); }, kWait}};
  Start(std::move(options));
  const HttpResponse r = Get("/livez");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok: io, decoder\n");
}

// A loop blocked past its bound fails /livez by name (the healthy one is not named); once it
// runs again, /livez recovers.
TEST_F(OpsServerTest, LivezNamesAStuckLoopAndRecovers) {
  TaskLoop stuck;
  TaskLoop healthy;
  ServerOptions options;
  options.loops = {stuck.Watched("stuck-loop", absl::Milliseconds(200)),
                   healthy.Watched("healthy-loop", kWait)};
  Start(std::move(options));
  Notification release;
  stuck.Post([&] { release.WaitForNotification(); });
  HttpResponse r = Get("/livez");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, StartsWith("stuck: stuck-loop (no heartbeat for "));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("healthy-loop")));
  // While it stays stuck, later probes answer at once from the beat still outstanding.
  EXPECT_EQ(Get("/livez").status, 503);
  release.Notify();
  r = AwaitStatus("/livez", 200);
  EXPECT_EQ(r.body, "ok: stuck-loop, healthy-loop\n");
}

// A worker whose job overruns its bound reads as stuck too.
TEST_F(OpsServerTest, LivezNamesABusyWorker) {
  WorkerHeartbeat worker;
  ServerOptions options;
  options.loops = {{"decoder", [&](std::function<void()> b) { worker.Post(std::move(b)); },
                    absl::Milliseconds(200)}};
  Start(std::move(options));
  Notification busy;
  Notification release;
  std::thread job([&] {
    WorkerHeartbeat::BusyScope scope = worker.Busy();
    busy.Notify();
    release.WaitForNotification();
  });
  busy.WaitForNotification();
  EXPECT_THAT(Get("/livez").body, StartsWith("stuck: decoder"));
  release.Notify();
  job.join();
  AwaitStatus("/livez", 200);
}

// Unknown paths are 404; a known path with the wrong method is 405 with Allow.
TEST_F(OpsServerTest, RefusesUnknownPathsAndWrongMethods) {
  Start();
  EXPECT_EQ(Get("/").status, 404);
  EXPECT_EQ(Get("/debug/pprof").status, 404);
  HttpResponse r = Send("POST", "/livez");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET");
  r = Get("/shutdown");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "POST");
  // A query string does not change the route.
  EXPECT_EQ(Get("/readyz?verbose=1").status, 503);
}

// POST /shutdown with its header from 127.0.0.1 answers 202 and calls the callback, once however
// often it is asked.
TEST_F(OpsServerTest, ShutdownFromLocalhostCallsTheCallbackOnce) {
  Mutex mu;
  int calls = 0;
  ServerOptions options;
  options.on_shutdown = [&] {
    MutexLock lock(&mu);
    ++calls;
  };
  Start(std::move(options));
  EXPECT_EQ(Shutdown({kShutdownHeader}).status, 202);
  EXPECT_EQ(Shutdown({kShutdownHeader}).status, 202);
  MutexLock lock(&mu);
  EXPECT_EQ(calls, 1);
}

// What a web page can send cross-site without a preflight (a text/plain POST, with the browser's
// Origin and Sec-Fetch-Site), or with them alongside the header, and a request without the
// header, are all 403 and call nothing.
TEST_F(OpsServerTest, ShutdownRefusesBrowsersAndRequestsWithoutTheHeader) {
  bool called = false;
  ServerOptions options;
  options.on_shutdown = [&] { called = true; };
  Start(std::move(options));
  const std::vector<std::string> refused[] = {
      {"Origin: https://attacker.example", "Content-Type: text/plain"},
      {"Origin: https://attacker.example", "Content-Type: text/plain", kShutdownHeader},
      {"Sec-Fetch-Site: cross-site", kShutdownHeader},
      {"Origin: null", kShutdownHeader},
      {},
      {"X-Tether-Shutdown: yes"},
  };
  for (const std::vector<std::string>& headers : refused) {
    SCOPED_TRACE(absl::StrJoin(headers, ", "));
    const HttpResponse r = Shutdown(headers);
    EXPECT_EQ(r.status, 403);
  }
  server_->Stop();  // the callback runs on the ops thread; stopped, nothing can call it
  EXPECT_FALSE(called);
}

// 127.0.0.6 is where a service mesh's sidecar forwards inbound pod traffic from: a peer in
// 127.0.0.0/8 other than 127.0.0.1 is refused.
TEST_F(OpsServerTest, ShutdownFromAnotherLoopbackAddressIsForbidden) {
  bool called = false;
  ServerOptions options;
  options.on_shutdown = [&] { called = true; };
  Start(std::move(options));
  const HttpResponse r = Shutdown({kShutdownHeader}, "127.0.0.6");
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("127.0.0.1 or ::1 only"));
  server_->Stop();
  EXPECT_FALSE(called);
}

// Listening on every address (as in a pod), /shutdown from a non-loopback peer is 403 and calls
// nothing, while the probes answer it.
TEST_F(OpsServerTest, ShutdownFromANonLoopbackPeerIsForbidden) {
  const std::optional<std::string> ip = NonLoopbackIpv4();
  if (!ip.has_value()) GTEST_SKIP() << "no non-loopback IPv4 address on this host";
  bool called = false;
  ServerOptions options;
  options.host = "0.0.0.0";
  options.on_shutdown = [&] { called = true; };
  Start(std::move(options));
  const std::string address = absl::StrCat(*ip, ":", server_->port());
  testing::HttpOptions from_pod_network;
  from_pod_network.source_ip = *ip;
  from_pod_network.headers = {kShutdownHeader};
  absl::StatusOr<HttpResponse> r = HttpRequest(address, "POST", "/shutdown", from_pod_network);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 403);
  r = HttpRequest(address, "GET", "/readyz", from_pod_network);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503);
  server_->Stop();  // the callback runs on the ops thread; stopped, nothing can call it
  EXPECT_FALSE(called);
}

// Keep-alive: two pipelined requests on one connection get two answers in order.
TEST_F(OpsServerTest, ServesSeveralRequestsOnOneConnection) {
  Start();
  absl::StatusOr<std::string> raw =
      HttpExchange(server_->address(),
                   "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n"
                   "Connection: close\r\n\r\n");
  ASSERT_TRUE(raw.ok()) << raw.status();
  absl::StatusOr<std::vector<HttpResponse>> responses = testing::ParseHttpResponses(*raw);
  ASSERT_TRUE(responses.ok()) << responses.status();
  ASSERT_EQ(responses->size(), 2u);
  EXPECT_EQ((*responses)[0].status, 503);
  EXPECT_EQ((*responses)[1].status, 404);
}

// Oversized headers and bodies are refused with 431 and 413, and garbage with 400. Each request
// fits the server's read buffer, so it has read everything when it closes (no RST to race the
// answer); the announced body is never sent.
TEST_F(OpsServerTest, RefusesOversizedAndMalformedRequests) {
  Start();
  struct Case {
    std::string raw;
    int status;
  };
  const Case cases[] = {
      {absl::StrCat("GET /readyz HTTP/1.1\r\nHost: t\r\nX-Big: ", std::string(9 * 1024, 'x'),
                    "\r\n\r\n"),
       431},
      {"POST /shutdown HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n", 413},
      {"NOT HTTP AT ALL\r\n\r\n", 400},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.status);
    absl::StatusOr<std::string> raw = HttpExchange(server_->address(), c.raw);
    ASSERT_TRUE(raw.ok()) << raw.status();
    absl::StatusOr<std::vector<HttpResponse>> responses = testing::ParseHttpResponses(*raw);
    ASSERT_TRUE(responses.ok()) << responses.status() << ": " << *raw;
    ASSERT_EQ(responses->size(), 1u);
    EXPECT_EQ((*responses)[0].status, c.status);
  }
}

// A connection that sends nothing is closed after the read timeout.
TEST_F(OpsServerTest, ClosesAnIdleConnectionAfterTheReadTimeout) {
  ServerOptions options;
  options.read_timeout = absl::Milliseconds(200);
  Start(std::move(options));
  // Sends nothing and reads until the server closes: the client's own timeout (kWait) would
  // fail the exchange if the server never did.
  absl::StatusOr<std::string> raw = HttpExchange(server_->address(), "");
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(*raw, "");
}

// A connection that sends part of its headers and then stalls is closed after the read timeout
// too: the timeout bounds the whole request, not each read.
TEST_F(OpsServerTest, ClosesAStalledRequestAfterTheReadTimeout) {
  ServerOptions options;
  options.read_timeout = absl::Milliseconds(200);
  Start(std::move(options));
  absl::StatusOr<std::string> raw = HttpExchange(server_->address(), "GET /livez HTTP/1.1\r\n");
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(*raw, "");
}

// 100 connections that send nothing, opened before it, do not lock a probe out: each new
// connection past the limit closes the oldest idle one. Connections are accepted in the order
// they were made, so the probe's is accepted last.
TEST_F(OpsServerTest, IdleConnectionsDoNotLockProbesOut) {
  Start();
  std::vector<testing::Socket> idle;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<testing::Socket> s = testing::Connect(server_->address());
    ASSERT_TRUE(s.ok()) << i << ": " << s.status();
    idle.push_back(*std::move(s));
  }
  EXPECT_EQ(Get("/livez").status, 200);
  // The oldest idle connection was closed to make room.
  EXPECT_TRUE(testing::AwaitClosed(idle.front(), kWait));
}

// Only connections awaiting a request are evicted: with the one slot busy answering /livez (its
// loop's beat held), a new connection is closed unanswered, and the busy one is answered.
TEST_F(OpsServerTest, ClosesANewConnectionWhenEveryOneIsBusy) {
  Notification posted;
  std::function<void()> held_beat;
  ServerOptions options;
  options.max_connections = 1;
  options.loops = {{"held",
                    [&](std::function<void()> beat) {
                      held_beat = std::move(beat);
                      posted.Notify();
                    },
                    kWait}};
  Start(std::move(options));
  std::optional<HttpResponse> busy;
  std::thread prober([&] { busy = Get("/livez"); });
  ASSERT_TRUE(posted.WaitForNotificationWithTimeout(kWait));
  absl::StatusOr<std::string> refused = HttpExchange(
      server_->address(), "GET /livez HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(*refused, "");
  held_beat();
  prober.join();
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->status, 200);
}

// A port already taken is an Unavailable Create error naming the listener.
TEST_F(OpsServerTest, BindFailureIsUnavailable) {
  Start();
  ServerOptions options;
  options.port = server_->port();
  absl::StatusOr<std::unique_ptr<Server>> second = Server::Create(options, board_);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsUnavailable(second.status()));
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr(absl::StrCat("ops listen 127.0.0.1:", server_->port())));
}

// Stop is idempotent and closes the listener.
TEST_F(OpsServerTest, StopClosesTheListener) {
  Start();
  const std::string address = server_->address();
  server_->Stop();
  server_->Stop();
  testing::HttpOptions quick;
  quick.timeout = absl::Seconds(5);
  EXPECT_FALSE(HttpRequest(address, "GET", "/livez", quick).ok());
}

}  // namespace
}  // namespace tether::ops

#include "sidecar/ops/server.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <list>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sidecar/common/asio.h"
#include "sidecar/common/host_port.h"
#include "sidecar/common/log.h"
#include "sidecar/common/mutex.h"
#include "sidecar/ops/metrics.h"

namespace tether::ops {
namespace {

using tcp = net::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

constexpr absl::string_view kLog = "ops";
// Probes and scrapes send a request line and a few headers; POST /shutdown has no body.
constexpr uint32_t kMaxHeaderBytes = 8 * 1024;
constexpr uint64_t kMaxBodyBytes = 4 * 1024;
// POST /shutdown must carry it with the value 1 (see Shutdown).
constexpr char kShutdownHeader[] = "X-Tether-Shutdown";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";
// Pause after a failed accept (out of file descriptors), so the loop cannot spin.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

std::string FormatEndpoint(const tcp::endpoint& e) {
  return JoinHostPort(e.address().to_string(), e.port());
}

// Exactly 127.0.0.1 or ::1 (also as an IPv4-mapped peer of a dual-stack listener), not all of
// 127.0.0.0/8: service meshes forward inbound pod traffic from 127.0.0.6 and the like, so such a
// peer may well be anyone who can reach the pod.
bool IsLocalHost(const net::ip::address& a) {
  const net::ip::address_v4 localhost_v4 = net::ip::address_v4::loopback();
  if (a.is_v4()) return a.to_v4() == localhost_v4;
  const net::ip::address_v6 v6 = a.to_v6();
  return v6.is_loopback() ||
         (v6.is_v4_mapped() && net::ip::make_address_v4(net::ip::v4_mapped, v6) == localhost_v4);
}

Response Text(const Request& request, http::status status, std::string body) {
  Response response(status, request.version());
  response.set(http::field::server, "tether");
  response.set(http::field::content_type, kTextType);
  response.body() = std::move(body);
  return response;
}

// The answer to a request that could not be read, or nothing when the connection just ended
// (closed, reset, timed out).
std::optional<http::status> RefusalFor(const beast::error_code& ec) {
  if (ec == http::error::header_limit) return http::status::request_header_fields_too_large;
  if (ec == http::error::body_limit) return http::status::payload_too_large;
  // Any other parse error (bad request line, header or chunk) is the client's fault; the end of
  // the stream or a partial message is a client that went away.
  if (&ec.category() == &http::make_error_code(http::error::bad_target).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return http::status::bad_request;
  }
  return std::nullopt;
}

// Heartbeat bookkeeping, shared with the beats posted to watched loops: those run on the loops'
// threads, possibly after the server stopped, or never.
//
// Threading: thread-safe; mu_ guards everything. The ops thread starts beats and reads them; any
// thread may run Beat.
class Heartbeats {
 public:
  Heartbeats(size_t loops, net::any_io_executor ops, std::function<void()> wake)
      : ops_(std::move(ops)), wake_(std::move(wake)), posted_at_(loops) {}

  // Returns whether loop `i` needs a new beat posted: true unless one is still outstanding, in
  // which case piling more onto a stuck loop would tell nothing new.
  bool Start(size_t i, absl::Time now) {
    MutexLock lock(&mu_);
    if (posted_at_[i].has_value()) return false;
    posted_at_[i] = now;
    return true;
  }

  // The beat for loop `i` ran: wake the ops thread's waiters.
  void Beat(size_t i) {
    MutexLock lock(&mu_);
    posted_at_[i].reset();
    // Under mu_, so that Close cannot let the io_context go between the check and the post.
    if (!closed_) net::post(ops_, wake_);
  }

  // When loop `i`'s outstanding beat was posted; nullopt when none is.
  std::optional<absl::Time> PostedAt(size_t i) {
    MutexLock lock(&mu_);
    return posted_at_[i];
  }

  // Before the ops io_context is destroyed: later beats post nothing to it.
  void Close() {
    MutexLock lock(&mu_);
    closed_ = true;
  }

 private:
  Mutex mu_;
  const net::any_io_executor ops_;
  const std::function<void()> wake_;
  std::vector<std::optional<absl::Time>> posted_at_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, const status::StatusBoard& status)
      : options_(std::move(options)),
        status_(status),
        heartbeats_(std::make_shared<Heartbeats>(options_.loops.size(), io_.get_executor(),
                                                 [this] { WakeLivenessWaiters(); })),
        acceptor_(io_) {}

  ~Impl() { Stop(); }

  absl::Status Listen() {
    beast::error_code ec;
    const net::ip::address address = net::ip::make_address(options_.host, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("ops listen host ", options_.host, ": not an ip address"));
    }
    const tcp::endpoint endpoint(address, options_.port);
    const std::string shown = FormatEndpoint(endpoint);
    acceptor_.open(endpoint.protocol(), ec);
    // A restarted tether must not wait out TIME_WAIT of the previous one's probe connections.
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("ops listen ", shown, ": ", ec.message()));
    const tcp::endpoint bound = acceptor_.local_endpoint(ec);
    if (ec) return absl::UnavailableError(absl::StrCat("ops listen ", shown, ": ", ec.message()));
    address_ = FormatEndpoint(bound);
    port_ = bound.port();
    return absl::OkStatus();
  }

  void Start() {
    // An accept loop that died would leave probes unanswered, so the kubelet restarts tether:
    // logging is enough.
    net::co_spawn(io_, Accept(), [](std::exception_ptr e) { LogFailure("accept loop", e); });
    thread_ = std::thread([this] { io_.run(); });
    log::Info(kLog, "ops listening", {{"address", address_}});
  }

  void Stop() {
    MutexLock lock(&lifecycle_mu_);
    if (stopped_) return;
    stopped_ = true;
    heartbeats_->Close();
    // Nothing here needs a goodbye: probes and scrapes retry, and a half-served /metrics is
    // discarded by Prometheus. The connections' coroutines go with the io_context.
    io_.stop();
    beast::error_code ignored;
    if (thread_.joinable()) {
      thread_.join();
      log::Info(kLog, "ops stopped");
    }
    acceptor_.close(ignored);
  }

  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }

 private:
  static void LogFailure(absl::string_view what, std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::Error(kLog, "ops task failed", {{"task", what}, {"err", ex.what()}});
    }
  }

  net::awaitable<void> Accept() {
    net::steady_timer retry(io_);
    bool failing = false;  // logged once per run of failures
    while (true) {
      beast::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(net::redirect_error(net::use_awaitable, ec));
      if (ec == net::error::operation_aborted) co_return;
      if (ec) {
        if (!std::exchange(failing, true)) {
          log::Warn(kLog, "accept failed, retrying", {{"err", ec.message()}});
        }
        retry.expires_after(kAcceptRetryDelay);
        co_await retry.async_wait(net::redirect_error(net::use_awaitable, ec));
        continue;
      }
      failing = false;
      if (connections_.size() >= options_.max_connections && !EvictOldestIdle()) {
        log::Debug(kLog, "every connection is busy with a request, closing a new one",
                   {{"limit", options_.max_connections}});
        socket.close(ec);
        continue;
      }
      net::co_spawn(io_, Serve(std::move(socket)),
                    [](std::exception_ptr e) { LogFailure("connection", e); });
    }
  }

  // Closes the oldest connection still waiting for (the rest of) a request, to make room for a
  // new one: idle connections must not lock probes out, and a prober that sent its request is
  // never the one closed. False when every connection is busy answering.
  bool EvictOldestIdle() {
    auto idle = std::find_if(connections_.begin(), connections_.end(),
                             [](const Connection& c) { return c.awaiting_request; });
    if (idle == connections_.end()) return false;
    log::Debug(kLog, "connections at the limit, closing the oldest idle one",
               {{"limit", options_.max_connections}});
    idle->evicted = true;
    idle->stream.close();
    evicted_.splice(evicted_.end(), connections_, idle);
    return true;
  }

  // One connection: requests in turn (keep-alive), each read bounded by read_timeout.
  net::awaitable<void> Serve(tcp::socket socket) {
    beast::error_code ec;
    const tcp::endpoint peer = socket.remote_endpoint(ec);
    const bool localhost_peer = !ec && IsLocalHost(peer.address());
    const std::string peer_name = ec ? "unknown" : FormatEndpoint(peer);
    beast::tcp_stream stream(std::move(socket));
    // Listed until this coroutine ends, also when Stop abandons it.
    connections_.push_back({stream});
    const auto self = std::prev(connections_.end());
    const absl::Cleanup unlist = [this, self] {
      (self->evicted ? evicted_ : connections_).erase(self);
    };
    // Bounded too, so that pipelined requests cannot grow it past one request's limits.
    beast::flat_buffer buffer(kMaxHeaderBytes + kMaxBodyBytes);
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(kMaxHeaderBytes);
      parser.body_limit(kMaxBodyBytes);
      // One deadline for the whole request, so that trickled bytes cannot stretch it.
      stream.expires_after(ToChrono(options_.read_timeout));
      self->awaiting_request = true;
      co_await http::async_read(stream, buffer, parser,
                                net::redirect_error(net::use_awaitable, ec));
      self->awaiting_request = false;
      if (self->evicted) break;
      if (ec) {
        if (std::optional<http::status> refusal = RefusalFor(ec)) {
          Response response = Text(Request(), *refusal, absl::StrCat(ec.message(), "\n"));
          response.keep_alive(false);
          response.prepare_payload();
          co_await http::async_write(stream, response, net::redirect_error(net::use_awaitable, ec));
        }
        break;
      }
      const Request request = parser.release();
      Response response = co_await Handle(request, localhost_peer, peer_name);
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      stream.expires_after(ToChrono(options_.read_timeout));
      co_await http::async_write(stream, response, net::redirect_error(net::use_awaitable, ec));
      if (ec || !response.keep_alive()) break;
    }
    if (!self->evicted) stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  net::awaitable<Response> Handle(const Request& request, bool localhost_peer,
                                  const std::string& peer) {
    const std::string_view target = request.target();
    const std::string_view path = target.substr(0, target.find('?'));
    const http::verb want = path == "/shutdown" ? http::verb::post : http::verb::get;
    if (path != "/livez" && path != "/readyz" && path != "/metrics" && path != "/shutdown") {
      co_return Text(request, http::status::not_found, "not found\n");
    }
    if (request.method() != want) {
      Response response = Text(request, http::status::method_not_allowed,
                               absl::StrCat("use ", std::string(http::to_string(want)), "\n"));
      response.set(http::field::allow, http::to_string(want));
      co_return response;
    }
    if (path == "/livez") co_return co_await Livez(request);
    if (path == "/readyz") co_return Readyz(request);
    if (path == "/metrics") co_return Metrics(request);
    co_return Shutdown(request, localhost_peer, peer);
  }

  net::awaitable<Response> Livez(const Request& request) {
    const std::vector<std::string> stuck = co_await StuckLoops();
    const std::string joined = absl::StrJoin(stuck, ", ");
    // Logged on change only: the kubelet asks every few seconds.
    if (joined != last_stuck_) {
      if (stuck.empty()) {
        log::Info(kLog, "event loops respond again");
      } else {
        log::Error(kLog, "event loop stuck, failing liveness", {{"loops", joined}});
      }
      last_stuck_ = joined;
    }
    if (!stuck.empty()) {
      co_return Text(request, http::status::service_unavailable,
                     absl::StrCat("stuck: ", joined, "\n"));
    }
    std::vector<std::string> names;
    for (const WatchedLoop& loop : options_.loops) names.push_back(loop.name);
    co_return Text(request, http::status::ok,
                   absl::StrCat("ok: ", absl::StrJoin(names, ", "), "\n"));
  }

  // Posts a beat to every loop without one outstanding, then waits until each outstanding beat
  // ran or overran its loop's timeout. Returns the overrunning loops as "name (no heartbeat for
  // 2.5s)".
  net::awaitable<std::vector<std::string>> StuckLoops() {
    const absl::Time started = absl::Now();
    for (size_t i = 0; i < options_.loops.size(); ++i) {
      if (heartbeats_->Start(i, started)) {
        options_.loops[i].post([beats = heartbeats_, i] { beats->Beat(i); });
      }
    }
    net::steady_timer timer(io_);
    while (true) {
      const absl::Time now = absl::Now();
      std::vector<std::string> stuck;
      absl::Time next_due = absl::InfiniteFuture();
      for (size_t i = 0; i < options_.loops.size(); ++i) {
        const std::optional<absl::Time> posted = heartbeats_->PostedAt(i);
        if (!posted.has_value()) continue;
        const absl::Time due = *posted + options_.loops[i].timeout;
        if (now >= due) {
          stuck.push_back(absl::StrCat(
              options_.loops[i].name, " (no heartbeat for ",
              absl::FormatDuration(absl::Trunc(now - *posted, absl::Milliseconds(1))), ")"));
        } else {
          next_due = std::min(next_due, due);
        }
      }
      if (next_due == absl::InfiniteFuture()) co_return stuck;
      // Woken early by WakeLivenessWaiters when a beat runs; the timer bounds the wait.
      timer.expires_after(ToChrono(next_due - now));
      waiters_.insert(&timer);
      beast::error_code ec;
      co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      waiters_.erase(&timer);
    }
  }

  void WakeLivenessWaiters() {
    for (net::steady_timer* timer : waiters_) timer->cancel();
  }

  Response Readyz(const Request& request) {
    const status::Readiness readiness = status_.GetReadiness();
    return Text(request, readiness.ready ? http::status::ok : http::status::service_unavailable,
                absl::StrCat(readiness.reason, "\n"));
  }

  Response Metrics(const Request& request) {
    absl::StatusOr<std::string> text = RenderMetrics(status_.Get(), absl::Now());
    if (!text.ok()) {
      log::Error(kLog, "cannot render metrics", {{"err", text.status().message()}});
      return Text(request, http::status::internal_server_error, "cannot render metrics\n");
    }
    Response response = Text(request, http::status::ok, *std::move(text));
    response.set(http::field::content_type,
                 std::string_view(kMetricsContentType.data(), kMetricsContentType.size()));
    return response;
  }

  // A stop request must come from a process in the pod, on purpose: from 127.0.0.1 or ::1, not
  // from a browser (a page can POST here cross-site without a preflight, but it cannot add a
  // custom header without one, which nothing here answers; and browsers send Origin or
  // Sec-Fetch-Site), and with the header that curl users add by hand.
  Response Shutdown(const Request& request, bool localhost_peer, const std::string& peer) {
    absl::string_view refusal;
    if (!localhost_peer) {
      refusal = "shutdown is accepted from 127.0.0.1 or ::1 only";
    } else if (request.count(http::field::origin) > 0 || request.count("Sec-Fetch-Site") > 0) {
      refusal = "shutdown is not accepted from a browser (Origin or Sec-Fetch-Site)";
    } else if (request[kShutdownHeader] != "1") {
      refusal = "shutdown needs the header X-Tether-Shutdown: 1";
    }
    if (!refusal.empty()) {
      log::Warn(kLog, "shutdown refused", {{"peer", peer}, {"reason", refusal}});
      return Text(request, http::status::forbidden, absl::StrCat(refusal, "\n"));
    }
    if (!options_.on_shutdown) {
      return Text(request, http::status::service_unavailable, "shutdown is not wired\n");
    }
    if (!shutdown_requested_) {
      shutdown_requested_ = true;
      log::Info(kLog, "shutdown requested", {{"peer", peer}});
      options_.on_shutdown();
    }
    return Text(request, http::status::accepted, "shutting down\n");
  }

  const ServerOptions options_;
  const status::StatusBoard& status_;

  // Ops-thread state. Declared before io_, so that the coroutines destroyed with the io_context
  // (Stop abandons them) can still find it.
  std::set<net::steady_timer*> waiters_;  // livez requests awaiting beats
  // A connection's place in the max_connections budget, owned by its Serve coroutine.
  struct Connection {
    beast::tcp_stream& stream;
    // No complete request read since accept or the last answer: a candidate for eviction.
    bool awaiting_request = true;
    bool evicted = false;  // closed by EvictOldestIdle, its coroutine not yet ended
  };
  std::list<Connection> connections_;  // holding a slot, oldest first
  std::list<Connection> evicted_;      // spliced here by EvictOldestIdle: no longer counted
  bool shutdown_requested_ = false;
  std::string last_stuck_;

  net::io_context io_{1};
  const std::shared_ptr<Heartbeats> heartbeats_;
  tcp::acceptor acceptor_;
  std::string address_;
  uint16_t port_ = 0;

  Mutex lifecycle_mu_;
  bool stopped_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Create(ServerOptions options,
                                                       const status::StatusBoard& status) {
  auto impl = std::make_unique<Impl>(std::move(options), status);
  if (absl::Status listening = impl->Listen(); !listening.ok()) return listening;
  impl->Start();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { impl_->Stop(); }

const std::string& Server::address() const { return impl_->address(); }

uint16_t Server::port() const { return impl_->port(); }

void Server::Stop() { impl_->Stop(); }

}  // namespace tether::ops

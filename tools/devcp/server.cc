// See server.h.
#include "tools/devcp/server.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sidecar/common/host_port.h"
#include "tools/devcp/io_helpers.h"
#include "tools/devcp/tls_context.h"

namespace tether::devcp {
namespace {

absl::StatusOr<tcp::acceptor> Listen(net::io_context& io, const std::string& host, uint16_t port) {
  const std::string address = JoinHostPort(host, port);
  beast::error_code ec;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(
      host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve listen address ", address, ": ", ec.message()));
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  tcp::acceptor acceptor(io);
  acceptor.open(endpoint.protocol(), ec);
  // A restarted devcp must not wait for the TIME_WAIT connections of the previous one.
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", ec.message()));
  }
  return acceptor;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControlPlane::Impl>> ControlPlane::Impl::Start(Options options) {
  absl::StatusOr<ssl::context> tls = MakeTlsContext(options);
  if (!tls.ok()) return tls.status();
  absl::StatusOr<std::string> digest = CertificateDigest(options.cert_path);
  if (!digest.ok()) return digest.status();
  auto io = std::make_unique<net::io_context>(1);
  absl::StatusOr<tcp::acceptor> acceptor = Listen(*io, options.listen_host, options.listen_port);
  if (!acceptor.ok()) return acceptor.status();

  const std::string host = options.listen_host;
  const absl::string_view mtls = options.mtls == MtlsMode::kShared ? "shared" : "pki";
  const std::string version = options.version;
  auto impl = std::make_unique<Impl>(std::move(options), std::move(io), *std::move(tls),
                                     *std::move(digest), *std::move(acceptor));
  log::Info(kComponent, "listening",
            {{"address", JoinHostPort(host, impl->port())}, {"mtls", mtls}, {"version", version}});
  return impl;
}

ControlPlane::Impl::Impl(Options options, std::unique_ptr<net::io_context> io, ssl::context tls,
                         std::string cert_digest, tcp::acceptor acceptor)
    : options_(std::move(options)),
      io_(std::move(io)),
      tls_(std::move(tls)),
      cert_digest_(std::move(cert_digest)),
      acceptor_(std::move(acceptor)),
      port_(acceptor_.local_endpoint().port()),
      events_(options_.max_events),
      work_(net::make_work_guard(*io_)),
      grace_timer_(*io_) {
  net::co_spawn(*io_, AcceptLoop(), ReportException("devcp accept loop"));
  thread_ = std::thread([this] { io_->run(); });
}

void ControlPlane::Impl::Stop() {
  std::call_once(stop_once_, [this] {
    {
      MutexLock lock(&post_mu_);
      stopping_ = true;
      net::post(*io_, [this] { BeginShutdown(); });
    }
    thread_.join();
    log::Info(kComponent, "stopped", {{"port", port_}});
  });
}

bool ControlPlane::Impl::RunOnIo(const std::function<void()>& fn) {
  // Shared with the handler rather than on this stack: tether::Mutex::Unlock notifies after
  // unlocking, so this thread could otherwise return and destroy the Notification while the io
  // thread is still inside Notify (TSan reported it).
  auto done = std::make_shared<Notification>();
  {
    // Under post_mu_ so that it is queued before BeginShutdown, which run() drains first.
    MutexLock lock(&post_mu_);
    if (stopping_) return false;
    net::post(*io_, [&fn, done] {
      fn();
      done->Notify();
    });
  }
  done->WaitForNotification();
  return true;
}

net::awaitable<void> ControlPlane::Impl::AcceptLoop() {
  for (;;) {
    tcp::socket socket(*io_);
    beast::error_code ec;
    co_await acceptor_.async_accept(socket, Await(ec));
    if (shutting_down_ || ec == net::error::operation_aborted) co_return;
    if (ec) {
      // E.g. out of file descriptors: back off briefly instead of spinning.
      log::Warn(kComponent, "accept failed", {{"err", ec.message()}});
      net::steady_timer pause(*io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(Await(ec));
      continue;
    }
    // nginx's tcp_nodelay default: pongs, close frames and small configs go out at once.
    socket.set_option(tcp::no_delay(true), ec);
    const uint64_t connection = ++next_connection_;
    sessions_.emplace(connection, StartSession(*this, connection, std::move(socket)));
  }
}

std::vector<std::shared_ptr<Session>> ControlPlane::Impl::SessionsSnapshot() const {
  std::vector<std::shared_ptr<Session>> out;
  out.reserve(sessions_.size());
  for (const auto& [connection, session] : sessions_) out.push_back(session);
  return out;
}

void ControlPlane::Impl::SetConfig(OutgoingPtr config) {
  config_ = std::move(config);
  Broadcast(config_);
}

void ControlPlane::Impl::Broadcast(const OutgoingPtr& frame) {
  for (const auto& session : SessionsSnapshot()) session->Push(frame);
}

void ControlPlane::Impl::SetFrozen(bool frozen) {
  frozen_ = frozen;
  if (!frozen) {
    for (const auto& session : SessionsSnapshot()) session->Unfreeze();
  }
}

void ControlPlane::Impl::CloseAll(absl::string_view reason) {
  for (const auto& session : SessionsSnapshot()) session->Close(std::string(reason));
}

void ControlPlane::Impl::DropAll(absl::string_view reason) {
  for (const auto& session : SessionsSnapshot()) session->Drop(std::string(reason));
}

void ControlPlane::Impl::Unregister(uint64_t connection) {
  sessions_.erase(connection);
  if (shutting_down_ && sessions_.empty()) grace_timer_.cancel();
}

void ControlPlane::Impl::BeginShutdown() {
  shutting_down_ = true;
  beast::error_code ignored;
  acceptor_.close(ignored);
  // A frozen CP could not say goodbye; let the close frames out.
  SetFrozen(false);
  CloseAll("control plane stopping");
  work_.reset();
  if (sessions_.empty()) return;
  // The close handshakes are bounded by handshake_timeout already; this catches anything else
  // (e.g. a refusal response stuck on a full socket) so that Stop always returns.
  grace_timer_.expires_after(ToSteady(options_.handshake_timeout) + std::chrono::seconds(1));
  grace_timer_.async_wait([this](beast::error_code ec) {
    if (!ec) DropAll("control plane stopping: close timed out");
  });
}

}  // namespace tether::devcp

#include "sidecar/cp/session.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "protocol/constants.h"
#include "sidecar/common/asio.h"
#include "sidecar/common/latest_wins_worker.h"
#include "sidecar/common/log.h"
#include "sidecar/common/mutex.h"
#include "sidecar/cp/tls_context.h"

namespace tether::cp {
namespace {

using tcp = net::ip::tcp;
using WsStream = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

constexpr absl::string_view kLog = "cp";
// Reads are issued in chunks of this size so that liveness is noted while a large frame is still
// arriving, and so that an oversized frame can be discarded without buffering it.
constexpr size_t kReadChunkBytes = 256 * 1024;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(std::max(d, absl::ZeroDuration())));
}

// Turns a failed step into a status that names the step, like Beast's examples' fail().
absl::Status StepError(absl::string_view step, const beast::error_code& ec) {
  return absl::UnavailableError(absl::StrCat(step, ": ", ec.message()));
}

// TLS failures say more through the certificate verify result than through the error code.
absl::Status TlsError(SSL* ssl, const beast::error_code& ec) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return absl::UnavailableError(absl::StrCat("tls handshake: certificate verify failed: ",
                                               X509_verify_cert_error_string(verify)));
  }
  return StepError("tls handshake", ec);
}

std::string HostHeader(const std::string& host, uint16_t port) {
  // RFC 7230 §5.4: an IPv6 literal is bracketed; Kong always includes the port (§1.1).
  const bool v6 = host.find(':') != std::string::npos;
  return v6 ? absl::StrCat("[", host, "]:", port) : absl::StrCat(host, ":", port);
}

}  // namespace

absl::string_view ConnectionStateName(ConnectionState state) {
  switch (state) {
    case ConnectionState::kConnecting:
      return "connecting";
    case ConnectionState::kConnected:
      return "connected";
    case ConnectionState::kDisconnected:
      return "disconnected";
    case ConnectionState::kStopped:
      return "stopped";
  }
  return "unknown";
}

std::string OutletTarget(const SessionOptions& options) {
  return absl::StrCat(protocol::kOutletPath, "?node_id=", options.node_id,
                      "&node_hostname=", options.node_hostname,
                      "&node_version=", options.node_version);
}

// One connection attempt and, once the handshake is done, the live connection. Owned jointly by
// the coroutines working on it; all fields are touched on the session strand only.
struct Connection {
  Connection(const net::strand<net::io_context::executor_type>& strand, ssl::context tls)
      : tls_context(std::move(tls)),
        resolver(strand),
        ws(strand, tls_context),
        watchdog(strand),
        ping_timer(strand),
        done_timer(strand) {}

  ssl::context tls_context;  // before ws, which keeps a reference to it
  tcp::resolver resolver;
  WsStream ws;
  net::steady_timer watchdog;    // bounds resolve, connect and both handshakes
  net::steady_timer ping_timer;  // the pinger sleeps here; cancelled to wake it early
  net::steady_timer done_timer;  // Run waits here for the tasks to finish
  absl::string_view step = "resolve";
  bool established = false;  // handshake done, basic_info sent
  bool closing = false;      // a close frame is being sent: Stop asked for it
  bool ended = false;        // only End() sets this
  bool ping_now = false;
  absl::Status end_reason;
  int tasks = 0;
  absl::Time connected_at;
  absl::Time last_seen;       // any frame or bytes from the CP count as life (§4.1)
  absl::Time last_ping_sent;  // for the round-trip time of the next pong
};

class Session::Impl : public std::enable_shared_from_this<Session::Impl> {
 public:
  Impl(net::io_context& io, SessionOptions options, SessionCallbacks callbacks)
      : strand_(net::make_strand(io)),
        options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        backoff_timer_(strand_),
        backoff_(options_.backoff,
                 [rng = std::mt19937_64(std::random_device{}())]() mutable {
                   return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
                 }),
        applied_hash_(options_.initial_config_hash),
        address_(HostHeader(options_.host, options_.port)),
        applier_([this](Frame frame) { ApplyFrame(std::move(frame)); }) {
    info_.address = address_;
  }

  void Start() {
    {
      MutexLock lock(&lifecycle_mu_);
      if (started_) return;
      started_ = true;
    }
    net::co_spawn(strand_, Run(), [self = shared_from_this()](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::Error(kLog, "session ended unexpectedly", {{"err", ex.what()}});
        }
      }
      self->info_.state = ConnectionState::kStopped;
      self->Publish();
      self->stopped_.Notify();
    });
    running_.WaitForNotification();
  }

  bool Stop(absl::Duration timeout) {
    {
      MutexLock lock(&lifecycle_mu_);
      if (!started_) {
        applier_.Stop();
        return true;
      }
    }
    net::post(strand_, [self = shared_from_this()] { self->BeginStop(); });
    bool clean = stopped_.WaitForNotificationWithTimeout(timeout);
    if (!clean) {
      log::Warn(kLog, "stop deadline passed, aborting the connection",
                {{"timeout", absl::FormatDuration(timeout)}});
      net::post(strand_, [self = shared_from_this()] { self->Abort(); });
      // Aborting only closes sockets, which completes every pending operation at once.
      stopped_.WaitForNotificationWithTimeout(absl::Seconds(5));
    }
    applier_.Stop();
    return clean && stopped_.HasBeenNotified();
  }

  std::string Url() const { return absl::StrCat("wss://", address_, OutletTarget(options_)); }

 private:
  net::awaitable<void> Run() {
    running_.Notify();
    while (!stopping_) {
      ++info_.attempts;
      info_.reconnects = info_.attempts - 1;
      info_.state = ConnectionState::kConnecting;
      info_.retry_in = absl::ZeroDuration();
      Publish();
      absl::Status ended;
      absl::Duration lasted = absl::ZeroDuration();
      // A fresh TLS context each attempt, so rotated certificate files are picked up.
      absl::StatusOr<ssl::context> tls = MakeTlsContext(options_.tls);
      if (!tls.ok()) {
        ended = tls.status();
      } else {
        auto conn = std::make_shared<Connection>(strand_, *std::move(tls));
        ended = co_await RunConnection(conn);
        conn_.reset();
        if (conn->established) {
          lasted = absl::Now() - conn->connected_at;
          info_.last_connection_duration = lasted;
        }
      }
      if (stopping_) break;
      info_.last_error = ended;
      info_.state = ConnectionState::kDisconnected;
      info_.connected_since = absl::InfinitePast();
      info_.retry_in = backoff_.Next(lasted);
      log::Warn(kLog,
                lasted > absl::ZeroDuration() ? "disconnected from control plane"
                                              : "cannot connect to control plane",
                {{"address", address_},
                 {"err", ended.message()},
                 {"retry_in", absl::FormatDuration(info_.retry_in)}});
      Publish();
      backoff_timer_.expires_after(ToChrono(info_.retry_in));
      beast::error_code ec;
      co_await backoff_timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    log::Info(kLog, "session stopped", {{"address", address_}});
  }

  // Connects, sends basic_info, then runs the reader and pinger until either ends the connection.
  // Returns why it ended.
  net::awaitable<absl::Status> RunConnection(std::shared_ptr<Connection> c) {
    conn_ = c;
    absl::Status connected = co_await Connect(c);
    if (!connected.ok()) {
      End(c, connected);
      co_return c->end_reason;
    }
    c->established = true;
    c->connected_at = c->last_seen = absl::Now();
    info_.state = ConnectionState::kConnected;
    info_.connected_since = c->connected_at;
    info_.config_received = false;
    info_.last_pong_at = absl::InfinitePast();
    log::Info(kLog, "connected to control plane",
              {{"address", address_}, {"peer", info_.peer}, {"node_id", options_.node_id}});
    Publish();

    Spawn(c, ReadLoop(c));
    Spawn(c, PingLoop(c));
    while (c->tasks > 0) {
      c->done_timer.expires_at(net::steady_timer::time_point::max());
      beast::error_code ec;
      co_await c->done_timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    co_return c->end_reason;
  }

  // Resolve, connect, TLS, websocket upgrade, basic_info: in protocol order, each step named.
  net::awaitable<absl::Status> Connect(std::shared_ptr<Connection> c) {
    // One deadline covers every step up to the upgrade, so a CP that trickles bytes during a
    // handshake cannot hold the attempt open.
    c->watchdog.expires_after(ToChrono(options_.connect_timeout));
    c->watchdog.async_wait([this, w = std::weak_ptr<Connection>(c)](beast::error_code ec) {
      auto c = w.lock();
      if (ec || !c || c->established || c->ended) return;
      End(c, absl::DeadlineExceededError(absl::StrCat(
                 c->step, ": timed out after ", absl::FormatDuration(options_.connect_timeout))));
    });
    beast::error_code ec;

    c->step = "resolve";
    auto endpoints = co_await c->resolver.async_resolve(
        options_.host, std::to_string(options_.port), net::redirect_error(net::use_awaitable, ec));
    if (c->ended) co_return c->end_reason;
    if (ec) co_return StepError("resolve", ec);

    c->step = "connect";
    tcp::endpoint peer = co_await beast::get_lowest_layer(c->ws).async_connect(
        endpoints, net::redirect_error(net::use_awaitable, ec));
    if (c->ended) co_return c->end_reason;
    if (ec) co_return StepError("connect", ec);
    info_.peer = absl::StrCat(peer.address().to_string(), ":", peer.port());

    c->step = "tls handshake";
    SSL* ssl = c->ws.next_layer().native_handle();
    if (absl::Status s =
            ConfigureServerIdentity(ssl, ExpectedServerName(options_.tls, options_.host));
        !s.ok()) {
      co_return s;
    }
    co_await c->ws.next_layer().async_handshake(ssl::stream_base::client,
                                                net::redirect_error(net::use_awaitable, ec));
    if (c->ended) co_return c->end_reason;
    if (ec) co_return TlsError(ssl, ec);

    c->step = "websocket upgrade";
    c->ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(http::field::user_agent, "tether"); }));
    websocket::response_type response;
    co_await c->ws.async_handshake(response, HostHeader(options_.host, options_.port),
                                   OutletTarget(options_),
                                   net::redirect_error(net::use_awaitable, ec));
    if (c->ended) co_return c->end_reason;
    if (ec == websocket::error::upgrade_declined) {
      co_return absl::FailedPreconditionError(
          absl::StrCat("websocket upgrade: control plane answered http ", response.result_int()));
    }
    if (ec) co_return StepError("websocket upgrade", ec);

    // The websocket's own timer now bounds only the close handshake: no idle timeout and no
    // automatic keep-alive pings, because the OSS CP drops a connection on any ping whose payload
    // is not a 32-char hash (§4.2). The pinger owns liveness instead.
    c->ws.set_option(websocket::stream_base::timeout{ToChrono(options_.close_timeout),
                                                     websocket::stream_base::none(), false});
    c->ws.read_message_max(0);  // enforced by ReadLoop, which can discard instead of failing
    c->ws.auto_fragment(false);
    c->ws.binary(true);
    c->ws.control_callback([this, raw = c.get()](websocket::frame_type kind, beast::string_view) {
      if (kind != websocket::frame_type::pong) return;
      const absl::Time now = absl::Now();
      raw->last_seen = now;
      info_.last_pong_at = now;
      info_.last_ping_rtt = now - raw->last_ping_sent;
      log::Debug(kLog, "pong", {{"rtt", absl::FormatDuration(info_.last_ping_rtt)}});
      Publish();
    });

    // §2: the first frame must be a binary, uncompressed basic_info.
    c->step = "basic_info";
    co_await c->ws.async_write(net::buffer(options_.basic_info),
                               net::redirect_error(net::use_awaitable, ec));
    if (c->ended) co_return c->end_reason;
    if (ec) co_return StepError("send basic_info", ec);
    c->watchdog.cancel();
    co_return absl::OkStatus();
  }

  // Reads frames until the connection ends. A complete binary frame goes to the decode worker,
  // replacing any frame still waiting there.
  net::awaitable<void> ReadLoop(std::shared_ptr<Connection> c) {
    std::string frame;
    std::string discard;  // scratch for the rest of an oversized frame
    size_t frame_bytes = 0;
    while (!c->ended) {
      beast::error_code ec;
      size_t n;
      const bool oversized = frame_bytes > options_.max_payload_bytes;
      if (oversized) {
        discard.resize(kReadChunkBytes);
        n = co_await c->ws.async_read_some(net::buffer(discard),
                                           net::redirect_error(net::use_awaitable, ec));
      } else {
        const size_t old = frame.size();
        frame.resize(old + kReadChunkBytes);
        n = co_await c->ws.async_read_some(net::buffer(frame.data() + old, kReadChunkBytes),
                                           net::redirect_error(net::use_awaitable, ec));
        frame.resize(old + n);
      }
      if (ec) {
        End(c, ReadError(c, ec));
        co_return;
      }
      c->last_seen = absl::Now();
      frame_bytes += n;
      if (frame_bytes > options_.max_payload_bytes) frame.clear();
      if (!c->ws.is_message_done()) continue;

      if (c->ws.got_text()) {
        log::Warn(kLog, "ignoring text frame from control plane", {{"bytes", frame_bytes}});
      } else if (frame_bytes > options_.max_payload_bytes) {
        absl::Status refused = absl::ResourceExhaustedError(
            absl::StrCat("config frame of ", frame_bytes, " bytes exceeds --cluster-max-payload ",
                         options_.max_payload_bytes));
        log::Warn(kLog, "config frame refused", {{"err", refused.message()}});
        if (callbacks_.on_frame_refused) callbacks_.on_frame_refused(refused);
      } else {
        log::Debug(kLog, "config frame received", {{"bytes", frame_bytes}});
        info_.config_received = true;
        ++info_.frames_received;
        if (applier_.Submit(Frame{std::move(frame), c->last_seen})) {
          log::Debug(kLog, "newer config frame replaced one waiting to be decoded");
        }
        Publish();
      }
      frame.clear();
      frame_bytes = 0;
    }
  }

  absl::Status ReadError(const std::shared_ptr<Connection>& c, const beast::error_code& ec) {
    if (c->closing) return absl::CancelledError("stopped");
    if (ec == websocket::error::closed) {
      const websocket::close_reason& why = c->ws.reason();
      return absl::UnavailableError(
          why.code == websocket::close_code::none
              ? std::string("control plane closed the connection")
              : absl::StrCat("control plane closed the connection with code ",
                             static_cast<int>(why.code), " ", std::string(why.reason.c_str())));
    }
    return StepError("read", ec);
  }

  // Pings right after basic_info, then every interval and whenever a config was applied; ends the
  // connection when nothing arrived for ping_timeout (§4.1).
  net::awaitable<void> PingLoop(std::shared_ptr<Connection> c) {
    absl::Time next_ping = absl::Now();
    while (!c->ended && !c->closing) {
      const absl::Time now = absl::Now();
      if (now - c->last_seen >= options_.ping_timeout) {
        End(c,
            absl::DeadlineExceededError(absl::StrCat("no pong or frame from control plane within ",
                                                     absl::FormatDuration(options_.ping_timeout))));
        co_return;
      }
      if (c->ping_now || now >= next_ping) {
        c->ping_now = false;
        // §4.1: the payload is exactly the 32-char applied hash.
        const websocket::ping_data payload(applied_hash_.data(), applied_hash_.size());
        c->last_ping_sent = absl::Now();
        beast::error_code ec;
        co_await c->ws.async_ping(payload, net::redirect_error(net::use_awaitable, ec));
        if (ec) {
          End(c, c->closing ? absl::CancelledError("stopped") : StepError("ping", ec));
          co_return;
        }
        log::Debug(kLog, "ping", {{"config_hash", applied_hash_}});
        next_ping = c->last_ping_sent + options_.ping_interval;
        continue;
      }
      c->ping_timer.expires_after(
          ToChrono(std::min(next_ping, c->last_seen + options_.ping_timeout) - now));
      beast::error_code ec;
      co_await c->ping_timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }

  // Sends an empty close frame (§5: neither Kong side sends a code) and waits for the CP's,
  // bounded by close_timeout.
  net::awaitable<void> CloseGracefully(std::shared_ptr<Connection> c) {
    beast::error_code ec;
    co_await c->ws.async_close(websocket::close_reason{},
                               net::redirect_error(net::use_awaitable, ec));
    if (ec) log::Debug(kLog, "close handshake incomplete", {{"err", ec.message()}});
    End(c, absl::CancelledError("stopped"));
  }

  void Spawn(const std::shared_ptr<Connection>& c, net::awaitable<void> task) {
    ++c->tasks;
    net::co_spawn(strand_, std::move(task), [this, c](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::Error(kLog, "connection task failed", {{"err", ex.what()}});
          End(c, absl::InternalError(ex.what()));
        }
      }
      if (--c->tasks == 0) c->done_timer.cancel();
    });
  }

  // Ends the connection once: records the first reason and closes everything so that every
  // pending operation completes.
  void End(const std::shared_ptr<Connection>& c, absl::Status reason) {
    if (!c->ended) {
      c->ended = true;
      c->end_reason = std::move(reason);
    }
    beast::error_code ignored;
    c->watchdog.cancel();
    c->ping_timer.cancel();
    c->resolver.cancel();
    beast::get_lowest_layer(c->ws).socket().close(ignored);
  }

  void BeginStop() {
    stopping_ = true;
    backoff_timer_.cancel();
    std::shared_ptr<Connection> c = conn_;
    if (!c || c->ended) return;
    if (!c->established) {
      End(c, absl::CancelledError("stopped"));
      return;
    }
    if (c->closing) return;
    c->closing = true;
    c->ping_timer.cancel();
    Spawn(c, CloseGracefully(c));
  }

  void Abort() {
    stopping_ = true;
    backoff_timer_.cancel();
    if (conn_) End(conn_, absl::CancelledError("stopped"));
  }

  // Decode worker thread.
  void ApplyFrame(Frame frame) {
    std::optional<std::string> applied = callbacks_.on_frame(std::move(frame));
    if (!applied) return;
    net::post(strand_, [w = weak_from_this(), hash = std::move(*applied)]() mutable {
      if (auto self = w.lock()) self->OnApplied(std::move(hash));
    });
  }

  void OnApplied(std::string hash) {
    applied_hash_ = std::move(hash);
    // Kong pings at once after each apply, including "same config" (§3.6).
    if (conn_ && conn_->established && !conn_->ended) {
      conn_->ping_now = true;
      conn_->ping_timer.cancel();
    }
  }

  void Publish() {
    if (callbacks_.on_change) callbacks_.on_change(info_);
  }

  net::strand<net::io_context::executor_type> strand_;
  const SessionOptions options_;
  const SessionCallbacks callbacks_;

  // Strand-owned state.
  net::steady_timer backoff_timer_;
  Backoff backoff_;
  ConnectionInfo info_;
  std::string applied_hash_;
  std::shared_ptr<Connection> conn_;  // the current attempt or connection
  bool stopping_ = false;

  const std::string address_;  // host:port, immutable: read from any thread

  Mutex lifecycle_mu_;
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  Notification running_;
  Notification stopped_;

  // Last: its thread calls back into the members above.
  LatestWinsWorker<Frame> applier_;
};

absl::StatusOr<std::unique_ptr<Session>> Session::Create(net::io_context& io,
                                                         SessionOptions options,
                                                         SessionCallbacks callbacks) {
  if (options.host.empty()) return absl::InvalidArgumentError("control plane host is empty");
  if (options.initial_config_hash.size() != protocol::kConfigHashLength) {
    return absl::InvalidArgumentError("initial config hash must be 32 characters");
  }
  if (options.ping_timeout <= options.ping_interval) {
    return absl::InvalidArgumentError("ping timeout must exceed ping interval");
  }
  if (!callbacks.on_frame) return absl::InvalidArgumentError("on_frame callback is required");
  if (absl::StatusOr<ssl::context> tls = MakeTlsContext(options.tls); !tls.ok()) {
    return tls.status();
  }
  return std::unique_ptr<Session>(
      new Session(std::make_shared<Impl>(io, std::move(options), std::move(callbacks))));
}

Session::Session(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Session::~Session() { impl_->Stop(absl::Seconds(5)); }

void Session::Start() { impl_->Start(); }

bool Session::Stop(absl::Duration timeout) { return impl_->Stop(timeout); }

std::string Session::Url() const { return impl_->Url(); }

}  // namespace tether::cp

#include "sidecar/cp/session.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "protocol/constants.h"
#include "sidecar/common/asio.h"
#include "sidecar/common/host_port.h"
#include "sidecar/common/latest_wins_worker.h"
#include "sidecar/common/log.h"
#include "sidecar/common/mutex.h"
#include "sidecar/cp/proxy.h"
#include "sidecar/cp/tls_context.h"
#include "sidecar/cp/transport_stream.h"

namespace tether::cp {
namespace {

using tcp = net::ip::tcp;
using WsStream = websocket::stream<beast::ssl_stream<TransportStream>>;

constexpr absl::string_view kLog = "cp";
// Reads are issued in chunks of this size so that liveness is noted while a large frame is still
// arriving, and so that an oversized frame can be discarded without buffering it.
constexpr size_t kReadChunkBytes = 256 * 1024;
// Bounds a proxy's answer to CONNECT: a status line and a few headers.
constexpr size_t kMaxProxyAnswerBytes = 16 * 1024;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(std::max(d, absl::ZeroDuration())));
}

// Turns a failed step into a status that names the step, like Beast's examples' fail().
absl::Status StepError(absl::string_view step, const beast::error_code& ec) {
  return absl::UnavailableError(absl::StrCat(step, ": ", ec.message()));
}

// TLS failures say more through the certificate verify result than through the error code.
absl::Status TlsError(absl::string_view step, SSL* ssl, const beast::error_code& ec) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return absl::UnavailableError(
        absl::StrCat(step, ": certificate verify failed: ", X509_verify_cert_error_string(verify)));
  }
  return StepError(step, ec);
}

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  return JoinHostPort(endpoint.address().to_string(), endpoint.port());
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
  // An https proxy's, set by OpenTunnel; before ws, whose transport keeps a reference to it.
  std::optional<ssl::context> proxy_tls;
  tcp::resolver resolver;
  WsStream ws;
  net::steady_timer watchdog;    // bounds resolve, connect and both handshakes
  net::steady_timer ping_timer;  // the pinger sleeps here; cancelled to wake it early
  net::steady_timer done_timer;  // Run waits here for the tasks to finish
  absl::string_view step = "resolve";
  bool established = false;   // handshake done, basic_info sent
  bool closing = false;       // a close frame is being sent: Stop or a rotation asked for it
  absl::Status close_reason;  // set with closing: what the connection ends with
  bool ended = false;         // only End() sets this
  bool ping_now = false;
  absl::Status end_reason;
  int tasks = 0;
  absl::Time connected_at;
  absl::Time last_seen;       // any frame or bytes from the CP count as life (§4.1)
  absl::Time last_ping_sent;  // for the round-trip time of the next pong
};

class Session::Impl : public std::enable_shared_from_this<Session::Impl> {
 public:
  Impl(net::io_context& io, SessionOptions options, SessionCallbacks callbacks,
       TlsCredentials credentials)
      : strand_(net::make_strand(io)),
        options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        backoff_timer_(strand_),
        cert_timer_(strand_),
        backoff_(options_.backoff,
                 [rng = std::mt19937_64(std::random_device{}())]() mutable {
                   return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
                 }),
        applied_hash_(options_.initial_config_hash),
        address_(JoinHostPort(options_.host, options_.port)),
        credentials_(std::move(credentials)),
        applier_([this](Frame frame) { ApplyFrame(std::move(frame)); }) {
    info_.address = address_;
    info_.cert_not_after = credentials_.not_after;
    info_.cert_subject = credentials_.subject;
    WarnIfExpiring();
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
    net::co_spawn(strand_, WatchCredentials(), [self = shared_from_this()](std::exception_ptr e) {
      if (e) log::Error(kLog, "certificate watch ended unexpectedly");
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
      absl::StatusOr<ssl::context> tls = MakeTlsContext(credentials_);
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
      // A new certificate is worth trying at once: it may be what the CP was refusing.
      if (std::exchange(retry_now_, false)) info_.retry_in = absl::ZeroDuration();
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

    // Through a proxy, tether resolves and connects to the proxy; the proxy resolves the CP.
    const std::string& host = options_.proxy ? options_.proxy->host : options_.host;
    const uint16_t port = options_.proxy ? options_.proxy->port : options_.port;

    c->step = "resolve";
    absl::StatusOr<std::vector<tcp::endpoint>> endpoints = co_await Resolve(c, host, port);
    if (c->ended) co_return c->end_reason;
    if (!endpoints.ok()) co_return endpoints.status();

    c->step = "connect";
    if (absl::Status s = co_await ConnectToAny(c, *endpoints); !s.ok()) co_return s;

    if (options_.proxy) {
      if (absl::Status s = co_await OpenTunnel(c); !s.ok()) co_return s;
    }

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
    if (ec) co_return TlsError("tls handshake", ssl, ec);

    c->step = "websocket upgrade";
    c->ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(http::field::user_agent, "tether"); }));
    websocket::response_type response;
    co_await c->ws.async_handshake(response, JoinHostPort(options_.host, options_.port),
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

  // What `host` resolves to now, asked on every attempt (nothing is cached), so a CP that moved
  // is found on the next one.
  net::awaitable<absl::StatusOr<std::vector<tcp::endpoint>>> Resolve(std::shared_ptr<Connection> c,
                                                                     const std::string& host,
                                                                     uint16_t port) {
    std::vector<tcp::endpoint> endpoints;
    if (options_.resolve_for_test) {
      absl::StatusOr<std::vector<std::string>> addresses = options_.resolve_for_test(host);
      if (!addresses.ok()) {
        co_return absl::UnavailableError(absl::StrCat("resolve: ", addresses.status().message()));
      }
      for (const std::string& a : *addresses) {
        beast::error_code ec;
        const net::ip::address address = net::ip::make_address(a, ec);
        if (ec) {
          co_return absl::InternalError(absl::StrCat("resolve: ", a, " is not an ip address"));
        }
        endpoints.emplace_back(address, port);
      }
    } else {
      beast::error_code ec;
      const tcp::resolver::results_type results = co_await c->resolver.async_resolve(
          host, std::to_string(port), net::redirect_error(net::use_awaitable, ec));
      if (c->ended) co_return c->end_reason;
      if (ec) co_return StepError("resolve", ec);
      for (const auto& entry : results) endpoints.push_back(entry.endpoint());
    }
    if (endpoints.empty()) {
      co_return absl::UnavailableError(absl::StrCat("resolve: no address for ", host));
    }
    log::Debug(
        kLog, "resolved",
        {{"host", host},
         {"addresses", absl::StrJoin(endpoints, ",", [](std::string* out, const tcp::endpoint& e) {
            out->append(FormatEndpoint(e));
          })}});
    co_return endpoints;
  }

  // Tries each address in turn until one accepts (Asio's range connect), all within the attempt's
  // deadline. When every one fails, the error names each address with its failure.
  net::awaitable<absl::Status> ConnectToAny(std::shared_ptr<Connection> c,
                                            const std::vector<tcp::endpoint>& endpoints) {
    std::vector<std::string> tried;  // "address: why it failed"; the last one may still be trying
    beast::error_code ec;
    const tcp::endpoint peer = co_await beast::get_lowest_layer(c->ws).tcp().async_connect(
        endpoints,
        // Called before each try with the previous try's result.
        [&tried](const beast::error_code& previous, const tcp::endpoint& next) {
          if (previous) absl::StrAppend(&tried.back(), ": ", previous.message());
          tried.push_back(FormatEndpoint(next));
          log::Debug(kLog, "connecting", {{"endpoint", tried.back()}});
          return true;
        },
        net::redirect_error(net::use_awaitable, ec));
    if (c->ended) co_return c->end_reason;
    if (ec && tried.size() <= 1) co_return StepError("connect", ec);
    if (ec) {
      absl::StrAppend(&tried.back(), ": ", ec.message());
      co_return absl::UnavailableError(absl::StrCat(
          "connect: each of ", tried.size(), " addresses failed: ", absl::StrJoin(tried, ", ")));
    }
    info_.peer = FormatEndpoint(peer);
    co_return absl::OkStatus();
  }

  // kong-protocol.md §1.1 (cluster_use_proxy): TLS to an https proxy, then CONNECT to the CP,
  // whose TLS then runs inside the tunnel; within the attempt's deadline like every step.
  net::awaitable<absl::Status> OpenTunnel(std::shared_ptr<Connection> c) {
    const ProxyOptions& proxy = *options_.proxy;
    TransportStream& transport = beast::get_lowest_layer(c->ws);
    beast::error_code ec;
    if (proxy.scheme == ProxyOptions::Scheme::kHttps) {
      c->step = "proxy tls handshake";
      absl::StatusOr<ssl::context> context = MakeProxyTlsContext(proxy);
      if (!context.ok()) co_return context.status();
      c->proxy_tls.emplace(*std::move(context));
      ssl::stream<beast::tcp_stream&>& tls = transport.StartTls(*c->proxy_tls);
      if (absl::Status s = ConfigureServerIdentity(tls.native_handle(), proxy.host); !s.ok()) {
        co_return s;
      }
      co_await tls.async_handshake(ssl::stream_base::client,
                                   net::redirect_error(net::use_awaitable, ec));
      if (c->ended) co_return c->end_reason;
      if (ec) co_return TlsError("proxy tls handshake", tls.native_handle(), ec);
    }

    c->step = "proxy connect";
    http::request<http::empty_body> request(http::verb::connect, address_, 11);
    request.set(http::field::host, address_);
    request.set(http::field::user_agent, "tether");
    if (std::string authorization = ProxyAuthorization(proxy); !authorization.empty()) {
      request.set(http::field::proxy_authorization, authorization);
    }
    co_await http::async_write(transport, request, net::redirect_error(net::use_awaitable, ec));
    if (c->ended) co_return c->end_reason;
    if (ec) co_return StepError("proxy connect: send", ec);

    // RFC 9110 §9.3.6: a 2xx answer to CONNECT has no body and the tunnel starts right after its
    // header; the body of any other answer is of no interest. The header is bounded.
    http::response_parser<http::empty_body> parser;
    parser.skip(true);
    parser.header_limit(kMaxProxyAnswerBytes);
    beast::flat_buffer buffer(kMaxProxyAnswerBytes);
    co_await http::async_read(transport, buffer, parser,
                              net::redirect_error(net::use_awaitable, ec));
    if (c->ended) co_return c->end_reason;
    if (ec) co_return StepError("proxy connect: read the answer", ec);
    if (absl::Status s = ConnectAnswerStatus(parser.get().result_int(), proxy, address_); !s.ok()) {
      co_return s;
    }
    // The CP speaks only after our ClientHello, so any byte already here came from the proxy.
    if (buffer.size() != 0) {
      co_return absl::UnavailableError("proxy connect: the proxy sent data after its answer");
    }
    log::Debug(kLog, "proxy tunnel open", {{"proxy", ProxyAddress(proxy)}, {"target", address_}});
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
    if (c->closing) return c->close_reason;
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
          End(c, c->closing ? c->close_reason : StepError("ping", ec));
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
    End(c, c->close_reason);
  }

  // Checks the certificate files every cert_check_interval until the session stops.
  net::awaitable<void> WatchCredentials() {
    while (!stopping_) {
      cert_timer_.expires_after(ToChrono(options_.cert_check_interval));
      beast::error_code ec;
      co_await cert_timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
      if (stopping_) break;
      CheckCredentials();
    }
  }

  void CheckCredentials() {
    absl::StatusOr<TlsCredentials> fresh = LoadTlsCredentials(options_.tls);
    if (fresh.ok() && fresh->SameFiles(credentials_)) {
      // Back to the files in use (a refused rotation was reverted).
      if (!info_.cert_error.ok()) {
        info_.cert_error = absl::OkStatus();
        Publish();
      }
      return;
    }
    absl::Status refused = fresh.status();
    if (fresh.ok() && fresh->not_after <= absl::Now()) {
      refused = absl::FailedPreconditionError(absl::StrCat("new cluster certificate ",
                                                           fresh->subject, " expired at ",
                                                           absl::FormatTime(fresh->not_after)));
    }
    if (!refused.ok()) {
      // Logged once per distinct failure: the files are re-read every interval.
      if (refused != info_.cert_error) {
        log::Error(kLog,
                   "cluster certificate files changed but are unusable, keeping the current "
                   "certificate",
                   {{"err", refused.message()}, {"in_use", credentials_.subject}});
        info_.cert_error = refused;
        Publish();
      }
      return;
    }
    credentials_ = *std::move(fresh);
    ++info_.cert_rotations;
    info_.cert_not_after = credentials_.not_after;
    info_.cert_subject = credentials_.subject;
    info_.cert_error = absl::OkStatus();
    log::Info(kLog, "cluster certificate rotated, reconnecting to present it",
              {{"subject", credentials_.subject},
               {"not_after", absl::FormatTime(credentials_.not_after)}});
    WarnIfExpiring();
    Publish();
    Reconnect(absl::UnavailableError("reconnecting to present the rotated cluster certificate"));
  }

  // Ends the current connection (gracefully when established) and retries without backoff.
  void Reconnect(absl::Status why) {
    retry_now_ = true;
    backoff_timer_.cancel();
    std::shared_ptr<Connection> c = conn_;
    if (!c || c->ended) return;
    if (!c->established) {
      End(c, std::move(why));
      return;
    }
    if (c->closing) return;
    c->closing = true;
    c->close_reason = std::move(why);
    c->ping_timer.cancel();
    Spawn(c, CloseGracefully(c));
  }

  void WarnIfExpiring() const {
    constexpr absl::Duration kWarnBefore = absl::Hours(24 * 30);
    const absl::Duration left = credentials_.not_after - absl::Now();
    if (left >= kWarnBefore) return;
    log::Warn(kLog,
              left <= absl::ZeroDuration() ? "cluster certificate has expired"
                                           : "cluster certificate expires in under 30 days",
              {{"subject", credentials_.subject},
               {"not_after", absl::FormatTime(credentials_.not_after)}});
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
    cert_timer_.cancel();
    std::shared_ptr<Connection> c = conn_;
    // A rotation's close already under way ends the connection too; Run then sees stopping_.
    if (c && c->closing) return;
    Reconnect(absl::CancelledError("stopped"));
  }

  void Abort() {
    stopping_ = true;
    backoff_timer_.cancel();
    cert_timer_.cancel();
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
  net::steady_timer cert_timer_;  // WatchCredentials sleeps here
  Backoff backoff_;
  ConnectionInfo info_;
  std::string applied_hash_;
  std::shared_ptr<Connection> conn_;  // the current attempt or connection
  bool stopping_ = false;
  bool retry_now_ = false;  // skip the next backoff wait (a rotation asked for a new connection)
  TlsCredentials credentials_;  // validated; each attempt's TLS context is built from it

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
  if (options.cert_check_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("certificate check interval must be positive");
  }
  absl::StatusOr<TlsCredentials> credentials = LoadTlsCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  return std::unique_ptr<Session>(new Session(std::make_shared<Impl>(
      io, std::move(options), std::move(callbacks), *std::move(credentials))));
}

Session::Session(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Session::~Session() { impl_->Stop(absl::Seconds(5)); }

void Session::Start() { impl_->Start(); }

bool Session::Stop(absl::Duration timeout) { return impl_->Stop(timeout); }

std::string Session::Url() const { return impl_->Url(); }

}  // namespace tether::cp

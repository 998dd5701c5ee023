#include "sidecar/cp/connection.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sidecar/common/host_port.h"
#include "sidecar/common/log.h"
#include "sidecar/cp/outlet.h"
#include "sidecar/cp/proxy.h"
#include "sidecar/cp/retry_after.h"
#include "sidecar/cp/tls_context.h"

namespace tether::cp {
namespace {

using tcp = net::ip::tcp;
using status::FailureCause;

constexpr absl::string_view kLog = "cp";
// Bounds a proxy's answer to CONNECT: a status line and a few headers.
constexpr size_t kMaxProxyAnswerBytes = 16 * 1024;

Ending Failed(FailureCause cause, absl::Status error) {
  return Ending{cause, std::move(error), std::nullopt};
}

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  return JoinHostPort(endpoint.address().to_string(), endpoint.port());
}

// The alerts a TLS server sends when it refuses the client's certificate. With TLS 1.3 the
// server's verdict arrives after the client's handshake is complete, so this can surface on the
// upgrade or on the first read as well as on the handshake.
bool IsClientCertRefusal(const beast::error_code& ec) {
  if (ec.category() != net::error::get_ssl_category()) return false;
  switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return true;
    default:
      return false;
  }
}

// TLS failures say more through the certificate verify result than through the error code.
Ending TlsFailed(absl::string_view step, SSL* ssl, const beast::error_code& ec,
                 FailureCause otherwise) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return Failed(FailureCause::kServerUntrusted,
                  absl::UnavailableError(absl::StrCat(step, ": certificate verify failed: ",
                                                      X509_verify_cert_error_string(verify))));
  }
  return StepFailed(IsClientCertRefusal(ec) ? FailureCause::kClientCertRefused : otherwise, step,
                    ec);
}

// What `host` resolves to now, asked on every attempt (nothing is cached), so a CP that moved is
// found on the next one.
net::awaitable<Ending> Resolve(std::shared_ptr<Connection> c, const SessionOptions& options,
                               const std::string& host, uint16_t port,
                               std::vector<tcp::endpoint>& endpoints) {
  if (options.resolve_for_test) {
    absl::StatusOr<std::vector<std::string>> addresses = options.resolve_for_test(host);
    if (!addresses.ok()) {
      co_return Failed(FailureCause::kDns, absl::UnavailableError(absl::StrCat(
                                               "resolve: ", addresses.status().message())));
    }
    for (const std::string& a : *addresses) {
      beast::error_code ec;
      const net::ip::address address = net::ip::make_address(a, ec);
      if (ec) {
        co_return Failed(FailureCause::kInternal, absl::InternalError(absl::StrCat(
                                                      "resolve: ", a, " is not an ip address")));
      }
      endpoints.emplace_back(address, port);
    }
  } else {
    beast::error_code ec;
    const tcp::resolver::results_type results = co_await c->resolver.async_resolve(
        host, std::to_string(port), net::redirect_error(net::use_awaitable, ec));
    if (c->ended()) co_return c->end_reason;
    if (ec) co_return StepFailed(FailureCause::kDns, "resolve", ec);
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }
  if (endpoints.empty()) {
    co_return Failed(FailureCause::kDns,
                     absl::UnavailableError(absl::StrCat("resolve: no address for ", host)));
  }
  log::Debug(
      kLog, "resolved",
      {{"host", host},
       {"addresses", absl::StrJoin(endpoints, ",", [](std::string* out, const tcp::endpoint& e) {
          out->append(FormatEndpoint(e));
        })}});
  co_return Ending::Ok();
}

// Tries each address in turn until one accepts (Asio's range connect). When every one fails,
// the error names each address with its failure; "refused" when any of them refused.
net::awaitable<Ending> ConnectToAny(std::shared_ptr<Connection> c,
                                    const std::vector<tcp::endpoint>& endpoints) {
  std::vector<std::string> tried;  // "address: why it failed"; the last one may still be trying
  bool refused = false;
  beast::error_code ec;
  const tcp::endpoint peer = co_await beast::get_lowest_layer(c->ws).tcp().async_connect(
      endpoints,
      // Called before each try with the previous try's result.
      [&](const beast::error_code& previous, const tcp::endpoint& next) {
        if (previous) absl::StrAppend(&tried.back(), ": ", previous.message());
        refused = refused || previous == net::error::connection_refused;
        tried.push_back(FormatEndpoint(next));
        log::Debug(kLog, "connecting", {{"endpoint", tried.back()}});
        return true;
      },
      net::redirect_error(net::use_awaitable, ec));
  if (c->ended()) co_return c->end_reason;
  if (ec) {
    refused = refused || ec == net::error::connection_refused;
    const FailureCause cause = refused ? FailureCause::kRefused : FailureCause::kUnreachable;
    if (tried.size() <= 1) co_return StepFailed(cause, "connect", ec);
    absl::StrAppend(&tried.back(), ": ", ec.message());
    co_return Failed(cause, absl::UnavailableError(
                                absl::StrCat("connect: each of ", tried.size(),
                                             " addresses failed: ", absl::StrJoin(tried, ", "))));
  }
  c->peer = FormatEndpoint(peer);
  co_return Ending::Ok();
}

// kong-protocol.md §1.1 (cluster_use_proxy): TLS to an https proxy, then CONNECT to the CP, whose
// TLS then runs inside the tunnel; within the attempt's deadline like every step.
net::awaitable<Ending> OpenTunnel(std::shared_ptr<Connection> c, const SessionOptions& options) {
  const ProxyOptions& proxy = *options.proxy;
  const std::string target = JoinHostPort(options.host, options.port);
  TransportStream& transport = beast::get_lowest_layer(c->ws);
  beast::error_code ec;
  if (proxy.scheme == ProxyOptions::Scheme::kHttps) {
    c->step = "proxy tls handshake";
    absl::StatusOr<ssl::context> context = MakeProxyTlsContext(proxy);
    if (!context.ok()) co_return Failed(FailureCause::kProxy, context.status());
    c->proxy_tls.emplace(*std::move(context));
    ssl::stream<beast::tcp_stream&>& tls = transport.StartTls(*c->proxy_tls);
    if (absl::Status s = ConfigureServerIdentity(tls.native_handle(), proxy.host); !s.ok()) {
      co_return Failed(FailureCause::kProxy, s);
    }
    co_await tls.async_handshake(ssl::stream_base::client,
                                 net::redirect_error(net::use_awaitable, ec));
    if (c->ended()) co_return c->end_reason;
    if (ec) {
      co_return TlsFailed("proxy tls handshake", tls.native_handle(), ec, FailureCause::kProxy);
    }
  }

  c->step = "proxy connect";
  http::request<http::empty_body> request(http::verb::connect, target, 11);
  request.set(http::field::host, target);
  request.set(http::field::user_agent, "tether");
  if (std::string authorization = ProxyAuthorization(proxy); !authorization.empty()) {
    request.set(http::field::proxy_authorization, authorization);
  }
  co_await http::async_write(transport, request, net::redirect_error(net::use_awaitable, ec));
  if (c->ended()) co_return c->end_reason;
  if (ec) co_return StepFailed(FailureCause::kProxy, "proxy connect: send", ec);

  // RFC 9110 §9.3.6: a 2xx answer to CONNECT has no body and the tunnel starts right after its
  // header; the body of any other answer is of no interest. The header is bounded.
  http::response_parser<http::empty_body> parser;
  parser.skip(true);
  parser.header_limit(kMaxProxyAnswerBytes);
  beast::flat_buffer buffer(kMaxProxyAnswerBytes);
  co_await http::async_read(transport, buffer, parser, net::redirect_error(net::use_awaitable, ec));
  if (c->ended()) co_return c->end_reason;
  if (ec) co_return StepFailed(FailureCause::kProxy, "proxy connect: read the answer", ec);
  if (absl::Status s = ConnectAnswerStatus(parser.get().result_int(), proxy, target); !s.ok()) {
    co_return Failed(FailureCause::kProxy, s);
  }
  // The CP speaks only after our ClientHello, so any byte already here came from the proxy.
  if (buffer.size() != 0) {
    co_return Failed(FailureCause::kProxy,
                     absl::UnavailableError("proxy connect: the proxy sent data after its answer"));
  }
  log::Debug(kLog, "proxy tunnel open", {{"proxy", ProxyAddress(proxy)}, {"target", target}});
  co_return Ending::Ok();
}

// Kong Enterprise answers 429 or 503 with Retry-After under reconnect storms; any other status is
// a refusal of this data plane (a wrong path, certificate or node id).
Ending UpgradeDeclined(const websocket::response_type& response, absl::Time now) {
  const unsigned status = response.result_int();
  const bool busy = status == 429 || status == 503;
  Ending ending = Failed(busy ? FailureCause::kCpBusy : FailureCause::kUpgradeRefused,
                         absl::FailedPreconditionError(absl::StrCat(
                             "websocket upgrade: control plane answered http ", status)));
  if (auto it = response.find(http::field::retry_after); busy && it != response.end()) {
    ending.retry_after =
        ParseRetryAfter(absl::string_view(it->value().data(), it->value().size()), now);
    if (ending.retry_after.has_value()) {
      ending.error = absl::FailedPreconditionError(absl::StrCat(
          ending.error.message(), ", retry after ", absl::FormatDuration(*ending.retry_after)));
    }
  }
  return ending;
}

}  // namespace

Ending StepFailed(FailureCause cause, absl::string_view step, const beast::error_code& ec) {
  return Failed(cause, absl::UnavailableError(absl::StrCat(step, ": ", ec.message())));
}

void Connection::End(Ending why) {
  if (phase != Phase::kEnded) {
    phase = Phase::kEnded;
    end_reason = std::move(why);
  }
  beast::error_code ignored;
  watchdog.cancel();
  ping_timer.cancel();
  resolver.cancel();
  beast::get_lowest_layer(ws).socket().close(ignored);
}

void Connection::NoteMessageBytes(absl::Time now, uint64_t announced,
                                  const SessionOptions& options) {
  if (!receiving()) message_started = now;
  message_progress = now;
  // Again on every read: a fragmented message announces each frame only as it begins.
  message_deadline = message_started + MessageAllowance(announced, options);
}

absl::Time Connection::AliveUntil(absl::Duration ping_timeout) const {
  if (!receiving()) return last_seen + ping_timeout;
  return std::min(message_progress + ping_timeout, message_deadline);
}

std::optional<Ending> Connection::Overdue(absl::Time now, absl::Duration ping_timeout) const {
  if (now < AliveUntil(ping_timeout)) return std::nullopt;
  if (receiving() && now >= message_deadline) {
    return Failed(FailureCause::kFrameTooSlow,
                  absl::DeadlineExceededError(
                      absl::StrCat("message from control plane not complete within ",
                                   absl::FormatDuration(message_deadline - message_started),
                                   " of its first bytes (--ping-timeout plus its size at ",
                                   kMinMessageBytesPerSecond / 1024, " KiB/s)")));
  }
  return Failed(FailureCause::kNoPong,
                absl::DeadlineExceededError(absl::StrCat(
                    receiving() ? "control plane stalled in the middle of a message for "
                                : "no pong or frame from control plane within ",
                    absl::FormatDuration(ping_timeout))));
}

absl::Duration MessageAllowance(uint64_t announced, const SessionOptions& options) {
  const uint64_t counted = std::min<uint64_t>(announced, options.max_payload_bytes);
  return options.ping_timeout +
         absl::Seconds(static_cast<double>(counted) / kMinMessageBytesPerSecond);
}

Ending EndingOf(const Connection& c, absl::string_view step, const beast::error_code& ec) {
  if (c.phase == Connection::Phase::kClosing) return c.close_reason;
  if (IsClientCertRefusal(ec)) return StepFailed(FailureCause::kClientCertRefused, step, ec);
  // Kong refuses a node version by sending a close frame and closing at once (§2): what arrives
  // first here is the close frame, an EOF or, with our first ping unread on its side, a reset.
  const FailureCause peer_ended =
      c.heard_from_cp ? FailureCause::kConnectionLost : FailureCause::kEndedAfterBasicInfo;
  if (ec != websocket::error::closed) return StepFailed(peer_ended, step, ec);
  const websocket::close_reason& why = c.ws.reason();
  const std::string message =
      why.code == websocket::close_code::none
          ? std::string("control plane closed the connection")
          : absl::StrCat("control plane closed the connection with code ",
                         static_cast<int>(why.code), " ", std::string(why.reason.c_str()));
  return Failed(c.heard_from_cp ? FailureCause::kClosedByCp : FailureCause::kEndedAfterBasicInfo,
                absl::UnavailableError(message));
}

net::awaitable<Ending> Connect(std::shared_ptr<Connection> c, const SessionOptions& options,
                               const Advertised& advertised) {
  // One deadline covers every step up to the upgrade, so a CP that trickles bytes during a
  // handshake cannot hold the attempt open.
  c->watchdog.expires_after(ToChrono(options.connect_timeout));
  c->watchdog.async_wait(
      [timeout = options.connect_timeout, w = std::weak_ptr<Connection>(c)](beast::error_code ec) {
        auto c = w.lock();
        if (ec || !c || c->phase != Connection::Phase::kConnecting) return;
        c->End(Failed(FailureCause::kTimeout,
                      absl::DeadlineExceededError(absl::StrCat(c->step, ": timed out after ",
                                                               absl::FormatDuration(timeout)))));
      });
  beast::error_code ec;

  // Through a proxy, tether resolves and connects to the proxy; the proxy resolves the CP.
  const std::string& host = options.proxy ? options.proxy->host : options.host;
  const uint16_t port = options.proxy ? options.proxy->port : options.port;

  c->step = "resolve";
  std::vector<tcp::endpoint> endpoints;
  if (Ending e = co_await Resolve(c, options, host, port, endpoints); !e.ok()) co_return e;

  c->step = "connect";
  if (Ending e = co_await ConnectToAny(c, endpoints); !e.ok()) co_return e;
  if (options.proxy) {
    if (Ending e = co_await OpenTunnel(c, options); !e.ok()) co_return e;
  }

  c->step = "tls handshake";
  SSL* ssl = c->ws.next_layer().native_handle();
  if (absl::Status s = ConfigureServerIdentity(ssl, ExpectedServerName(options.tls, options.host));
      !s.ok()) {
    co_return Failed(FailureCause::kCredentials, s);
  }
  co_await c->ws.next_layer().async_handshake(ssl::stream_base::client,
                                              net::redirect_error(net::use_awaitable, ec));
  if (c->ended()) co_return c->end_reason;
  if (ec) co_return TlsFailed("tls handshake", ssl, ec, FailureCause::kTls);

  c->step = "websocket upgrade";
  c->ws.set_option(websocket::stream_base::decorator(
      [](websocket::request_type& req) { req.set(http::field::user_agent, "tether"); }));
  websocket::response_type response;
  co_await c->ws.async_handshake(response, JoinHostPort(options.host, options.port),
                                 OutletTarget(options, advertised.node_version),
                                 net::redirect_error(net::use_awaitable, ec));
  if (c->ended()) co_return c->end_reason;
  if (ec == websocket::error::upgrade_declined)
    co_return UpgradeDeclined(response, options.clock->Now());
  if (ec) {
    co_return StepFailed(
        IsClientCertRefusal(ec) ? FailureCause::kClientCertRefused : FailureCause::kUpgradeRefused,
        "websocket upgrade", ec);
  }

  // The websocket's own timer now bounds only the close handshake: no idle timeout and no
  // automatic keep-alive pings, because the OSS CP drops a connection on any ping whose payload
  // is not a 32-char hash (§4.2). The pinger owns liveness instead.
  c->ws.set_option(websocket::stream_base::timeout{ToChrono(options.close_timeout),
                                                   websocket::stream_base::none(), false});
  c->ws.read_message_max(0);  // enforced by the reader, which can discard instead of failing
  c->ws.auto_fragment(false);
  c->ws.binary(true);

  // §2: the first frame must be a binary, uncompressed basic_info.
  c->step = "basic_info";
  co_await c->ws.async_write(net::buffer(advertised.basic_info),
                             net::redirect_error(net::use_awaitable, ec));
  if (c->ended()) co_return c->end_reason;
  if (ec) co_return StepFailed(FailureCause::kConnectionLost, "send basic_info", ec);
  c->watchdog.cancel();
  c->phase = Connection::Phase::kOpen;
  c->connected_at = c->last_seen = options.clock->Now();
  co_return Ending::Ok();
}

}  // namespace tether::cp

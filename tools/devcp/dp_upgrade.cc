// See dp_session.h: TLS, the client certificate and the websocket upgrade, with the HTTP
// answers Kong gives to refused requests (kong-protocol.md §1).
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "protocol/constants.h"
#include "sidecar/common/log.h"
#include "tools/devcp/dp_session.h"
#include "tools/devcp/rules.h"
#include "tools/devcp/tls_context.h"

namespace tether::devcp {
namespace {

// Far beyond a real upgrade request; bounds what an unauthenticated peer can make us buffer.
constexpr uint32_t kMaxRequestHeaderBytes = 32 * 1024;
constexpr std::string_view kServerHeader = "tether-devcp";  // Beast takes std::string_view

}  // namespace

net::awaitable<bool> DpSession::Handshake() {
  beast::error_code ec;
  co_await tls().async_handshake(ssl::stream_base::server, Await(ec));
  if (ec) {
    Reject(0, absl::StrCat("tls handshake failed: ", ec.message()));
    co_return false;
  }
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(kMaxRequestHeaderBytes);
  co_await http::async_read(tls(), buffer, parser, Await(ec));
  if (ec) {
    Reject(0, absl::StrCat("failed to read the upgrade request: ", ec.message()));
    co_return false;
  }
  const http::request<http::empty_body>& request = parser.get();
  const OutletTarget target = ParseOutletTarget(ToAbsl(request.target()));
  // The order of Kong's checks: nginx's location match, the certificate, the query (§1.1, §1.2).
  if (target.path != protocol::kOutletPath) {
    co_await Respond(http::status::not_found, absl::StrCat("no route for ", target.path));
    co_return false;
  }
  if (absl::Status certificate = CheckClientCertificate(); !certificate.ok()) {
    Reject(444, std::string(certificate.message()));
    co_return false;
  }
  if (!target.node_id.has_value() || !target.node_version.has_value()) {
    co_await Respond(http::status::bad_request, "missing node_id or node_version query parameter");
    co_return false;
  }
  if (!websocket::is_upgrade(request)) {
    co_await Respond(http::status::bad_request, "not a websocket upgrade request");
    co_return false;
  }
  if (cp_.TakeBusyAnswer()) {
    co_await Respond(http::status::too_many_requests, "busy",
                     absl::StrCat(absl::ToInt64Seconds(cp_.options().busy_retry_after)));
    co_return false;
  }
  node_version_ = *target.node_version;

  ws_.set_option(websocket::stream_base::timeout{
      // Bounds the upgrade response and every close handshake.
      ToSteady(cp_.options().handshake_timeout),
      // No idle timeout: the watchdog applies Kong's ping_wait rule, with a close frame.
      websocket::stream_base::none(),
      // Kong's CP never pings (§0); a DP must not see unexpected frames.
      false});
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
    response.set(http::field::server, kServerHeader);
  }));
  ws_.read_message_max(cp_.options().max_payload_bytes);
  // Kong sends whole binary frames and neither side handles continuations (§1.3).
  ws_.auto_fragment(false);
  ws_.binary(true);
  co_await ws_.async_accept(request, Await(ec));
  if (ec) {
    // Beast has answered a malformed upgrade with 400 (or 426) itself.
    Reject(400, absl::StrCat("websocket upgrade failed: ", ec.message()));
    co_return false;
  }
  if (closing_) co_return false;  // the watchdog fired while the 101 was on its way
  frames().StartFrames();         // the 101 is written; pongs are emptied from here on

  Event event = NewEvent(EventKind::kConnected);
  event.node_id = target.node_id.value_or("");
  event.node_hostname = target.node_hostname.value_or("");
  event.node_version = node_version_;
  if (X509* cert = SSL_get0_peer_certificate(tls().native_handle())) {
    char subject[256];
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    event.client_subject = subject;
  }
  log::Info(kComponent, "data plane connected",
            {{"connection", connection_},
             {"peer", peer_},
             {"node_id", event.node_id},
             {"node_hostname", event.node_hostname},
             {"node_version", node_version_}});
  cp_.events().Record(std::move(event));
  co_return true;
}

net::awaitable<void> DpSession::Respond(http::status status, std::string reason,
                                        std::string retry_after) {
  const int code = static_cast<int>(status);
  if (closing_) co_return;
  Reject(code, reason);  // records the event; the socket closes after the response below
  http::response<http::string_body> response{status, 11};
  response.set(http::field::server, kServerHeader);
  response.set(http::field::content_type, "text/plain");
  if (!retry_after.empty()) response.set(http::field::retry_after, retry_after);
  response.keep_alive(false);
  response.body() = absl::StrCat(reason, "\n");
  response.prepare_payload();
  beast::error_code ec;
  co_await http::async_write(tls(), response, Await(ec));
  // No TLS close_notify exchange: nothing follows a refusal, and the DP may not answer one.
  socket().shutdown(tcp::socket::shutdown_both, ec);
  CloseSocket();
}

absl::Status DpSession::CheckClientCertificate() {
  if (cp_.options().mtls != MtlsMode::kShared) return absl::OkStatus();
  X509Ptr certificate(SSL_get1_peer_certificate(tls().native_handle()), &X509_free);
  if (certificate == nullptr) {
    return absl::PermissionDeniedError(
        "data plane failed to present client certificate during handshake");
  }
  absl::StatusOr<std::string> digest = Sha256Der(certificate.get());
  if (!digest.ok() || *digest != cp_.cert_digest()) {
    return absl::PermissionDeniedError(
        "data plane presented incorrect client certificate during handshake (digest does not "
        "match the control plane certificate)");
  }
  return absl::OkStatus();
}

}  // namespace tether::devcp

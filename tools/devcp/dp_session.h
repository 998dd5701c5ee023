// DpSession: one DP connection, the Beast websocket implementation of Session (session.h).
// dp_session.cc runs the connection after the upgrade; dp_upgrade.cc does TLS and the upgrade.
//
// Kept out of session.h so that only these two files compile Beast's websocket (~40 s each).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "sidecar/common/asio.h"
#include "tools/devcp/empty_pong_stream.h"
#include "tools/devcp/event_log.h"
#include "tools/devcp/gated_socket.h"
#include "tools/devcp/io_helpers.h"
#include "tools/devcp/server.h"
#include "tools/devcp/session.h"

namespace tether::devcp {

using WsStream = websocket::stream<EmptyPongStream<ssl::stream<GatedSocket>>>;

// One DP connection, from TCP accept to close: TLS, the upgrade request, basic_info, then the
// reader (pings), the writer (queued frames) and a watchdog (handshake, basic_info and ping_wait
// deadlines). Every kind of end funnels into End(), which records exactly one kClosed.
//
// Threading: sequence-bound to the CP's io thread (one thread, so no strand is needed). Kept
// alive by its coroutines (shared_from_this) and by the CP's session map until End().
class DpSession final : public Session, public std::enable_shared_from_this<DpSession> {
 public:
  DpSession(ControlPlane::Impl& cp, uint64_t connection, tcp::socket socket);

  void Start();

  void Push(const OutgoingPtr& frame) override;
  void Close(std::string reason) override;
  void Drop(std::string reason) override;
  void Unfreeze() override;

 private:
  enum class Phase { kHandshake, kBasicInfo, kReady };

  net::awaitable<void> Run(std::shared_ptr<DpSession> self);
  // TLS handshake and upgrade request; false when the connection was refused.
  net::awaitable<bool> Handshake();
  // `retry_after`: a Retry-After header, when not empty.
  net::awaitable<void> Respond(http::status status, std::string reason,
                               std::string retry_after = "");
  absl::Status CheckClientCertificate();
  void HandleBasicInfo(std::string data, bool binary);
  // Reads until the connection ends; any data frame is a protocol violation.
  net::awaitable<beast::error_code> ReadLoop();
  void OnControlFrame(websocket::frame_type kind, std::string_view payload);
  net::awaitable<void> WriteLoop(std::shared_ptr<DpSession> self);
  net::awaitable<void> Watchdog(std::shared_ptr<DpSession> self);
  net::awaitable<void> SendClose(std::shared_ptr<DpSession> self);
  // Kong's refusal of an incompatible DP (`wb:send_close()` then `ngx.exit(444)`): an empty
  // close frame, then the socket is closed at once, without awaiting the DP's close frame or
  // reading what it sent meanwhile (unread bytes make the kernel answer with a reset).
  net::awaitable<void> HangUp();
  void Fault(std::string reason);
  void Reject(int http_status, std::string reason, std::string detail = "");
  void End(const beast::error_code& ec);

  Event NewEvent(EventKind kind) const {
    Event event;
    event.kind = kind;
    event.connection = connection_;
    event.time = absl::Now();
    event.peer = peer_;
    return event;
  }
  absl::Duration PhaseTimeout() const {
    switch (phase_) {
      case Phase::kHandshake:
        return cp_.options().handshake_timeout;
      case Phase::kBasicInfo:
        return cp_.options().basic_info_timeout;
      case Phase::kReady:
        break;
    }
    return cp_.options().ping_wait;
  }
  // Moves the watchdog's deadline; a later one needs no wake-up, an earlier one does.
  void ExtendDeadline(absl::Duration from_now) {
    deadline_ = SteadyClock::now() + ToSteady(from_now);
  }
  void ResetDeadline(absl::Duration from_now) {
    ExtendDeadline(from_now);
    watchdog_.cancel();
  }
  EmptyPongStream<ssl::stream<GatedSocket>>& frames() { return ws_.next_layer(); }
  ssl::stream<GatedSocket>& tls() { return frames().next_layer(); }
  GatedSocket& gated() { return tls().next_layer(); }
  tcp::socket& socket() { return gated().next_layer(); }
  void CloseSocket() {
    beast::error_code ignored;
    socket().close(ignored);
    gated().Wake();
  }
  bool ready() const { return phase_ == Phase::kReady && !closing_; }

  ControlPlane::Impl& cp_;
  const uint64_t connection_;
  const std::string peer_;
  WsStream ws_;
  net::steady_timer watchdog_;
  net::steady_timer write_signal_;  // never expires; cancelled to wake the writer
  SteadyClock::time_point deadline_;
  Phase phase_ = Phase::kHandshake;
  // Set once the connection is ending (by either side); no new frames are queued or written.
  bool closing_ = false;
  // Why the CP ended the connection; unset when the DP did.
  std::optional<std::string> end_reason_;
  bool dp_sent_close_ = false;
  // Set with closing_ when the CP refuses the DP's version: Run hangs up instead of reading on.
  bool hang_up_ = false;
  std::string node_version_;
  std::set<std::string> dp_plugins_;  // from basic_info
  std::deque<OutgoingPtr> queue_;
};

}  // namespace tether::devcp

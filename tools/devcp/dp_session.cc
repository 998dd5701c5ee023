// See dp_session.h: the session after the upgrade (basic_info, pings, pushes, and every way a
// connection ends).
#include "tools/devcp/dp_session.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "protocol/constants.h"
#include "sidecar/common/host_port.h"
#include "sidecar/common/log.h"
#include "tools/devcp/rules.h"

namespace tether::devcp {
namespace {

std::string EndpointString(const tcp::socket& socket) {
  beast::error_code ec;
  const tcp::endpoint endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  return JoinHostPort(endpoint.address().to_string(), endpoint.port());
}

}  // namespace

std::shared_ptr<Session> StartSession(ControlPlane::Impl& cp, uint64_t connection,
                                      tcp::socket socket) {
  auto session = std::make_shared<DpSession>(cp, connection, std::move(socket));
  session->Start();
  return session;
}

DpSession::DpSession(ControlPlane::Impl& cp, uint64_t connection, tcp::socket socket)
    : cp_(cp),
      connection_(connection),
      peer_(EndpointString(socket)),
      ws_(GatedSocket(std::move(socket), cp.frozen_flag()), cp.tls()),
      watchdog_(ws_.get_executor()),
      write_signal_(ws_.get_executor()) {
  write_signal_.expires_at(net::steady_timer::time_point::max());
}

void DpSession::Start() {
  net::co_spawn(ws_.get_executor(), Run(shared_from_this()), ReportException("devcp session"));
}

net::awaitable<void> DpSession::Run(std::shared_ptr<DpSession> self) {
  ResetDeadline(cp_.options().handshake_timeout);
  net::co_spawn(ws_.get_executor(), Watchdog(self), ReportException("devcp watchdog"));
  if (!co_await Handshake()) {
    End({});
    co_return;
  }
  phase_ = Phase::kBasicInfo;
  ResetDeadline(cp_.options().basic_info_timeout);
  // Called inside Beast's read for pings, pongs and close frames; `this` outlives every read.
  ws_.control_callback([this](websocket::frame_type kind, std::string_view payload) {
    OnControlFrame(kind, payload);
  });
  beast::flat_buffer message;
  beast::error_code ec;
  co_await ws_.async_read(message, Await(ec));
  if (!ec && !closing_) HandleBasicInfo(beast::buffers_to_string(message.data()), ws_.got_binary());
  if (!ec && hang_up_) {
    co_await HangUp();
  } else if (!ec) {
    ec = co_await ReadLoop();
  }
  End(ec);
}

void DpSession::HandleBasicInfo(std::string data, bool binary) {
  Event received = NewEvent(EventKind::kBasicInfo);
  received.payload = data;
  cp_.events().Record(std::move(received));
  // Stricter than Kong, whose reader only expects binary and has undefined behaviour otherwise.
  if (!binary) {
    Fault("basic info frame is not a binary frame: text");
    return;
  }
  absl::StatusOr<BasicInfo> info = ParseBasicInfo(data);
  if (!info.ok()) {
    Fault(std::string(info.status().message()));
    return;
  }
  if (absl::Status version = CheckVersionCompatibility(node_version_, cp_.options().version);
      !version.ok()) {
    Event rejected = NewEvent(EventKind::kHandshakeRejected);
    rejected.reason = "kong_version_incompatible";
    rejected.detail = std::string(version.message());
    log::Info(kComponent, "data plane rejected",
              {{"connection", connection_}, {"reason", rejected.reason}, {"err", rejected.detail}});
    cp_.events().Record(std::move(rejected));
    closing_ = true;
    hang_up_ = true;
    end_reason_ = "kong_version_incompatible";
    watchdog_.cancel();
    return;
  }
  dp_plugins_ = std::move(info->plugins);
  phase_ = Phase::kReady;
  ResetDeadline(cp_.options().ping_wait);
  net::co_spawn(ws_.get_executor(), WriteLoop(shared_from_this()), ReportException("devcp writer"));
  // §3.3: the current config is the first frame a DP receives after basic_info.
  if (cp_.config() != nullptr) Push(cp_.config());
}

net::awaitable<beast::error_code> DpSession::ReadLoop() {
  beast::flat_buffer message;
  for (;;) {
    message.clear();
    beast::error_code ec;
    co_await ws_.async_read(message, Await(ec));
    if (ec) co_return ec;
    if (closing_) continue;  // the close handshake is under way; keep reading until it ends
    const std::string data = beast::buffers_to_string(message.data());
    // Any data frame is invalid after basic_info; this names why, in Kong's order (§4.2).
    Fault(CheckDataPlaneFrame(ws_.got_text() ? "text" : "binary", data)
              .value_or("invalid websocket frame received from data plane"));
  }
}

void DpSession::OnControlFrame(websocket::frame_type kind, std::string_view payload) {
  if (kind == websocket::frame_type::close) {
    dp_sent_close_ = true;
    return;
  }
  if (closing_) return;
  const absl::string_view name = kind == websocket::frame_type::ping ? "ping" : "pong";
  if (phase_ != Phase::kReady) {
    Fault(absl::StrCat("basic info frame is not a binary frame: ", name));
    return;
  }
  // Fault only starts the close (co_spawn runs it later), so calling it inside Beast's read is
  // safe; Beast still sends its pong for this frame first (see control_plane.h).
  if (std::optional<std::string> reason = CheckDataPlaneFrame(name, ToAbsl(payload))) {
    Fault(std::move(*reason));
    return;
  }
  ExtendDeadline(cp_.options().ping_wait);
  Event event = NewEvent(EventKind::kPing);
  event.payload = std::string(payload);
  log::Debug(kComponent, "ping", {{"connection", connection_}, {"config_hash", event.payload}});
  cp_.events().Record(std::move(event));
}

void DpSession::Push(const OutgoingPtr& frame) {
  if (!ready()) return;
  if (frame->kind == Outgoing::Kind::kConfig) {
    if (std::optional<std::string> missing =
            FindMissingPlugin(frame->configured_plugins, dp_plugins_)) {
      Event event = NewEvent(EventKind::kConfigWithheld);
      event.reason = "plugin_set_incompatible";
      event.detail = absl::StrCat("configured ", *missing, " plugin is missing from data plane");
      event.config_hash = frame->config_hash;
      log::Warn(kComponent, "config withheld",
                {{"connection", connection_},
                 {"config_hash", frame->config_hash},
                 {"reason", event.reason},
                 {"err", event.detail}});
      cp_.events().Record(std::move(event));
      return;
    }
  }
  queue_.push_back(frame);
  write_signal_.cancel();
}

net::awaitable<void> DpSession::WriteLoop(std::shared_ptr<DpSession> self) {
  beast::error_code ec;
  // Beast allows one write in flight; this loop is the only writer of data frames.
  while (!closing_) {
    if (queue_.empty()) {
      co_await write_signal_.async_wait(Await(ec));
      continue;
    }
    const OutgoingPtr frame = std::move(queue_.front());
    queue_.pop_front();
    frames().Drip(ToSteady(frame->drip));
    co_await ws_.async_write(net::buffer(frame->bytes), Await(ec));
    frames().Drip(SteadyClock::duration::zero());
    if (ec) {
      if (!closing_) Drop(absl::StrCat("write failed: ", ec.message()));
      co_return;
    }
    const bool config = frame->kind == Outgoing::Kind::kConfig;
    Event event = NewEvent(config ? EventKind::kConfigPushed : EventKind::kRawPushed);
    event.config_hash = frame->config_hash;
    event.frame_bytes = frame->bytes.size();
    log::Info(kComponent, config ? "config pushed" : "raw frame pushed",
              {{"connection", connection_},
               {"config_hash", frame->config_hash},
               {"bytes", frame->bytes.size()}});
    cp_.events().Record(std::move(event));
  }
}

net::awaitable<void> DpSession::Watchdog(std::shared_ptr<DpSession> self) {
  beast::error_code ec;
  while (!closing_) {
    watchdog_.expires_at(deadline_);
    co_await watchdog_.async_wait(Await(ec));
    if (closing_) break;
    const SteadyClock::time_point now = SteadyClock::now();
    if (now < deadline_) continue;  // moved by a ping or a phase change
    if (cp_.frozen()) {
      // A frozen CP hears nothing, so it times nothing out; Unfreeze restarts the clock.
      deadline_ = now + ToSteady(PhaseTimeout());
      continue;
    }
    switch (phase_) {
      case Phase::kHandshake:
        Reject(0, "handshake timed out");
        break;
      case Phase::kBasicInfo:
        Close("failed to receive websocket basic info frame: timeout");
        break;
      case Phase::kReady:
        Close(PingTimeoutReason(cp_.options().ping_wait));
        break;
    }
  }
}

void DpSession::Fault(std::string reason) {
  if (closing_) return;
  Event event = NewEvent(EventKind::kInvalidFrame);
  event.reason = reason;
  log::Info(kComponent, "invalid frame", {{"connection", connection_}, {"err", reason}});
  cp_.events().Record(std::move(event));
  Close(std::move(reason));
}

void DpSession::Reject(int http_status, std::string reason, std::string detail) {
  if (closing_) return;
  Event event = NewEvent(EventKind::kHandshakeRejected);
  event.http_status = http_status;
  event.reason = reason;
  event.detail = std::move(detail);
  log::Info(
      kComponent, "handshake rejected",
      {{"connection", connection_}, {"peer", peer_}, {"status", http_status}, {"err", reason}});
  cp_.events().Record(std::move(event));
  if (http_status == 0 || http_status == 444) {
    Drop(std::move(reason));
  } else {
    // Respond() writes the answer, then closes.
    closing_ = true;
    end_reason_ = std::move(reason);
    watchdog_.cancel();
  }
}

void DpSession::Close(std::string reason) {
  if (closing_) return;
  if (phase_ == Phase::kHandshake) {
    Drop(std::move(reason));
    return;
  }
  closing_ = true;
  end_reason_ = std::move(reason);
  watchdog_.cancel();
  write_signal_.cancel();
  net::co_spawn(ws_.get_executor(), SendClose(shared_from_this()), ReportException("devcp close"));
}

net::awaitable<void> DpSession::SendClose(std::shared_ptr<DpSession> self) {
  beast::error_code ec;
  // Kong's close frames carry no status code (§5). Bounded by the handshake timeout option; the
  // pending read then ends with websocket::error::closed, or an error.
  co_await ws_.async_close(websocket::close_reason(websocket::close_code::none), Await(ec));
  CloseSocket();
}

net::awaitable<void> DpSession::HangUp() {
  // FIN, no mask bit, opcode 8, no payload: the frame Kong's send_close() writes (§5). Written
  // under Beast, which has nothing in flight here: the read of basic_info has completed and the
  // writer has not started.
  static constexpr unsigned char kEmptyCloseFrame[] = {0x88, 0x00};
  beast::error_code ec;
  co_await net::async_write(frames(), net::buffer(kEmptyCloseFrame), Await(ec));
  CloseSocket();
}

void DpSession::Drop(std::string reason) {
  if (!end_reason_.has_value()) end_reason_ = std::move(reason);
  closing_ = true;
  watchdog_.cancel();
  write_signal_.cancel();
  CloseSocket();
}

void DpSession::Unfreeze() {
  const SteadyClock::time_point restart = SteadyClock::now() + ToSteady(PhaseTimeout());
  if (deadline_ < restart) deadline_ = restart;
  gated().Wake();
}

void DpSession::End(const beast::error_code& ec) {
  Event event = NewEvent(EventKind::kClosed);
  if (end_reason_.has_value()) {
    event.closed_by = Closer::kControlPlane;
    event.reason = *end_reason_;
  } else {
    event.closed_by = Closer::kDataPlane;
    event.reason = dp_sent_close_ ? "data plane sent a close frame"
                                  : absl::StrCat("connection lost: ", ec.message());
  }
  closing_ = true;
  watchdog_.cancel();
  write_signal_.cancel();
  queue_.clear();
  CloseSocket();
  log::Info(kComponent, "connection closed",
            {{"connection", connection_},
             {"peer", peer_},
             {"closed_by", CloserName(event.closed_by)},
             {"reason", event.reason}});
  cp_.events().Record(std::move(event));
  cp_.Unregister(connection_);
}

}  // namespace tether::devcp

#include "sidecar/cp/session.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"
#include "protocol/constants.h"
#include "sidecar/common/asio.h"
#include "sidecar/common/check.h"
#include "sidecar/common/host_port.h"
#include "sidecar/common/log.h"
#include "sidecar/common/mutex.h"
#include "sidecar/cp/connection.h"
#include "sidecar/cp/credential_watch.h"
#include "sidecar/cp/outlet.h"
#include "sidecar/cp/tls_context.h"
#include "sidecar/cp/version_negotiation.h"

namespace tether::cp {
namespace {

using status::ConnectionState;
using status::FailureCause;

constexpr absl::string_view kLog = "cp";
// Reads are issued in chunks of this size so that a large frame's progress is noted while it is
// still arriving, and so that an oversized frame can be discarded without buffering it.
constexpr size_t kReadChunkBytes = 256 * 1024;

}  // namespace

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
        rng_(std::random_device{}()),
        applied_hash_(options_.initial_config_hash),
        negotiator_(options_.negotiate_version ? VersionNegotiator::Auto(options_.remembered_minor)
                                               : VersionNegotiator::Fixed(options_.node_version)),
        credentials_(options_.tls, std::move(credentials)),
        address_(JoinHostPort(options_.host, options_.port)) {
    info_.address = address_;
    info_.node_version = negotiator_.version();
    info_.node_version_source = std::string(VersionNegotiator::SourceName(negotiator_.source()));
    NoteCurrentCredentials();
  }

  void Start() {
    {
      MutexLock lock(&lifecycle_mu_);
      if (started_) return;
      started_ = true;
    }
    net::co_spawn(strand_, Run(),
                  [self = shared_from_this()](std::exception_ptr e) { self->OnRunEnded(e); });
    net::co_spawn(strand_, WatchCredentials(), [self = shared_from_this()](std::exception_ptr e) {
      if (e) self->ReportUnexpectedEnd(e);
    });
    running_.WaitForNotification();
  }

  bool Stop(absl::Duration timeout) {
    {
      MutexLock lock(&lifecycle_mu_);
      if (!started_) return true;
    }
    // A quarter of the time is kept for aborting, so the whole stop stays within `timeout`.
    const absl::Duration abort_within = timeout / 4;
    net::post(strand_, [self = shared_from_this()] { self->BeginStop(); });
    const bool clean = stopped_.WaitForNotificationWithTimeout(timeout - abort_within);
    if (!clean) {
      log::Warn(kLog, "stop deadline passed, aborting the connection",
                {{"timeout", absl::FormatDuration(timeout)}});
      net::post(strand_, [self = shared_from_this()] { self->Abort(); });
      // Aborting only closes sockets, which completes every pending operation at once.
      stopped_.WaitForNotificationWithTimeout(abort_within);
    }
    return clean && stopped_.HasBeenNotified();
  }

  void SetAppliedHash(std::string hash) {
    net::post(strand_, [self = shared_from_this(), hash = std::move(hash)]() mutable {
      self->OnApplied(std::move(hash));
    });
  }

  void EndUnexpectedlyForTest() {
    net::post(strand_, [self = shared_from_this()] {
      self->end_for_test_ = true;
      self->backoff_timer_.cancel();
      if (self->conn_) {
        self->conn_->End({FailureCause::kInternal, absl::InternalError("test hook")});
      }
    });
  }

  std::string Url() const { return OutletUrl(options_); }

 private:
  // Run's completion: the session has stopped, by Stop or (a bug) by itself.
  void OnRunEnded(std::exception_ptr e) {
    if (e || !stopping_) ReportUnexpectedEnd(e);
    info_.state = ConnectionState::kStopped;
    Publish();
    stopped_.Notify();
  }

  // The session runs until Stop: any other end of its coroutines is a bug. It stops the rest and
  // tells the owner once, so that the process can drain and exit rather than limp on.
  void ReportUnexpectedEnd(std::exception_ptr e) {
    if (stopping_) return;
    absl::Status why = absl::InternalError("the session ended without being stopped");
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        why = absl::InternalError(absl::StrCat("session ended unexpectedly: ", ex.what()));
      }
    }
    log::Error(kLog, "control plane session ended unexpectedly", {{"err", why.message()}});
    stopping_ = true;
    cert_timer_.cancel();
    backoff_timer_.cancel();
    if (conn_) conn_->End({FailureCause::kInternal, why});
    if (callbacks_.on_unexpected_end) callbacks_.on_unexpected_end(why);
  }

  net::awaitable<void> Run() {
    running_.Notify();
    while (!stopping_) {
      if (end_for_test_) throw std::runtime_error("ended by a test hook");
      ++info_.attempts;
      info_.reconnects = info_.attempts - 1;
      info_.state = ConnectionState::kConnecting;
      info_.retry_in = absl::ZeroDuration();
      Publish();
      Ending ended;
      absl::Duration lasted = absl::ZeroDuration();
      const Advertised advertised{negotiator_.version(),
                                  options_.basic_info(negotiator_.version())};
      info_.node_version = advertised.node_version;
      info_.node_version_source = std::string(VersionNegotiator::SourceName(negotiator_.source()));
      absl::StatusOr<ssl::context> tls = MakeTlsContext(credentials_.current());
      if (!tls.ok()) {
        ended = {FailureCause::kCredentials, tls.status()};
      } else {
        auto conn = std::make_shared<Connection>(strand_, *std::move(tls));
        ended = co_await RunConnection(conn, advertised);
        conn_.reset();
        if (conn->established()) {
          lasted = Now() - conn->connected_at;
          info_.last_connection_duration = lasted;
        }
      }
      if (stopping_ || end_for_test_) continue;
      info_.last_error = ended.error;
      info_.last_cause = ended.cause;
      info_.state = ConnectionState::kDisconnected;
      info_.connected_since = absl::InfinitePast();
      info_.retry_in = RetryDelay(ended, lasted);
      // Armed before it is published, so that whoever sees the wait (a test moving the clock)
      // sees it counted from now.
      backoff_timer_.expires_after(ToChrono(info_.retry_in));
      log::Warn(kLog,
                lasted > absl::ZeroDuration() ? "disconnected from control plane"
                                              : "cannot connect to control plane",
                {{"address", address_},
                 {"cause", status::FailureCauseName(ended.cause)},
                 {"err", ended.error.message()},
                 {"retry_in", absl::FormatDuration(info_.retry_in)}});
      Publish();
      beast::error_code ec;
      co_await backoff_timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    log::Info(kLog, "session stopped", {{"address", address_}});
  }

  // Connects, sends basic_info, then runs the reader and pinger until either ends the connection.
  // Returns why it ended.
  net::awaitable<Ending> RunConnection(std::shared_ptr<Connection> c, Advertised advertised) {
    conn_ = c;
    Ending connected = co_await Connect(c, options_, advertised);
    TETHER_DCHECK(strand_.running_in_this_thread());
    if (!c->peer.empty()) info_.peer = c->peer;
    if (!connected.ok()) {
      c->End(std::move(connected));
      co_return c->end_reason;
    }
    info_.state = ConnectionState::kConnected;
    info_.connected_since = c->connected_at;
    info_.config_received = false;
    info_.last_pong_at = absl::InfinitePast();
    c->ws.control_callback([this, raw = c.get()](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) OnPong(*raw);
    });
    log::Info(kLog, "connected to control plane",
              {{"address", address_}, {"peer", info_.peer}, {"node_id", options_.node_id}});
    Publish();

    Spawn(c, ReadLoop(c));
    Spawn(c, PingLoop(c));
    while (c->tasks > 0) {
      c->done_timer.expires_at(Timer::time_point::max());
      beast::error_code ec;
      co_await c->done_timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    co_return c->end_reason;
  }

  void OnPong(Connection& c) {
    TETHER_DCHECK(strand_.running_in_this_thread());
    const absl::Time now = Now();
    c.last_seen = now;
    OnCpAnswered(c);
    info_.last_pong_at = now;
    info_.last_ping_rtt = now - c.last_ping_sent;
    log::Debug(kLog, "pong", {{"rtt", absl::FormatDuration(info_.last_ping_rtt)}});
    Publish();
  }

  // How long to wait after `ended`, a connection that lasted `lasted` (zero: never established).
  absl::Duration RetryDelay(const Ending& ended, absl::Duration lasted) {
    absl::Duration delay = backoff_.Next(lasted);
    if (ended.cause == FailureCause::kEndedAfterBasicInfo) {
      negotiator_.Refused();
      // Searching: pauses of 1, 2, 4, 8 s... up to negotiation_pause, so that a search's few
      // refusals take seconds and a CP that refuses everything sees a few attempts a minute.
      if (negotiator_.searching()) {
        delay = std::min(options_.negotiation_pause,
                         absl::Seconds(1) * (int64_t{1} << std::min(search_refusals_++, 10)));
      }
    }
    if (ended.retry_after.has_value()) {
      // At least what the CP asked, plus up to a tenth more so a fleet does not return at once.
      const absl::Duration asked =
          *ended.retry_after * (1.0 + std::uniform_real_distribution<double>(0.0, 0.1)(rng_));
      if (asked > delay) {
        delay = asked;
        ++info_.retry_after_waits;
      }
    }
    // A new certificate or a newer version is worth trying at once.
    if (std::exchange(retry_now_, false)) delay = absl::ZeroDuration();
    return delay;
  }

  // The CP said something after basic_info (a pong or a frame): it accepted the version. While
  // searching, this may only show that the CP's minor is at least this one: the connection is
  // then closed and the next version tried at once.
  void OnCpAnswered(Connection& c) {
    if (std::exchange(c.heard_from_cp, true)) return;
    const bool was_searching = negotiator_.searching();
    const std::string accepted = negotiator_.version();
    const bool keep = negotiator_.Accepted();
    info_.node_version_source = std::string(VersionNegotiator::SourceName(negotiator_.source()));
    Publish();
    if (keep) {
      if (!was_searching) return;
      search_refusals_ = 0;
      log::Info(kLog, "control plane accepted the Kong version",
                {{"node_version", accepted}, {"how", info_.node_version_source}});
      if (callbacks_.on_version_accepted) callbacks_.on_version_accepted(accepted);
      return;
    }
    log::Info(kLog, "control plane accepted an older Kong version than it may run, trying newer",
              {{"accepted", accepted}, {"next", negotiator_.version()}});
    Reconnect({FailureCause::kVersionProbe,
               absl::UnavailableError(absl::StrCat("trying Kong version ", negotiator_.version(),
                                                   " after ", accepted, " was accepted"))});
  }

  // Reads frames until the connection ends. Each complete binary frame goes to the pipeline.
  net::awaitable<void> ReadLoop(std::shared_ptr<Connection> c) {
    std::string frame;
    std::string discard;  // scratch for the rest of an oversized frame
    size_t frame_bytes = 0;
    while (!c->ended()) {
      beast::error_code ec;
      size_t n;
      const bool oversized = frame_bytes > options_.max_payload_bytes;
      if (oversized) {
        discard.resize(kReadChunkBytes);
        n = co_await c->ws.async_read_some(net::buffer(discard),
                                           net::redirect_error(net::use_awaitable, ec));
      } else {
        const size_t old = frame.size();
        // Once the frame's header is read, the rest of a message's last frame is known (no
        // permessage-deflate): the buffer is made that size once, within the cap, rather than
        // grown by doubling (copies, and up to twice the frame held until it is shrunk).
        const size_t rest = c->ws.read_size_hint(kReadChunkBytes);
        if (rest <= options_.max_payload_bytes - old) frame.reserve(old + rest);
        const size_t chunk = std::min(rest, kReadChunkBytes);
        frame.resize(old + chunk);
        n = co_await c->ws.async_read_some(net::buffer(frame.data() + old, chunk),
                                           net::redirect_error(net::use_awaitable, ec));
        frame.resize(old + n);
      }
      if (ec) {
        c->End(EndingOf(*c, "read", ec));
        co_return;
      }
      OnCpAnswered(*c);
      frame_bytes += n;
      if (frame_bytes > options_.max_payload_bytes) frame.clear();
      if (!c->ws.is_message_done()) {
        // The hint is what the current frame still announces: no permessage-deflate here.
        c->NoteMessageBytes(Now(), frame_bytes + c->ws.read_size_hint(1), options_);
        continue;
      }
      c->NoteMessageDone(Now());

      if (c->ws.got_text()) {
        log::Warn(kLog, "ignoring text frame from control plane", {{"bytes", frame_bytes}});
      } else if (frame_bytes > options_.max_payload_bytes) {
        absl::Status refused = absl::ResourceExhaustedError(
            absl::StrCat("config frame of ", frame_bytes, " bytes exceeds --cluster-max-payload ",
                         options_.max_payload_bytes));
        log::Warn(kLog, "config frame refused", {{"err", refused.message()}});
        if (callbacks_.on_frame_refused) callbacks_.on_frame_refused(refused);
      } else if (c->phase == Connection::Phase::kClosing &&
                 c->close_reason.cause == FailureCause::kVersionProbe) {
        // Sent for an older version than the CP's: fields newer than it may be missing.
        log::Debug(kLog, "config frame ignored: received while trying a Kong version",
                   {{"bytes", frame_bytes}});
      } else {
        log::Debug(kLog, "config frame received", {{"bytes", frame_bytes}});
        info_.config_received = true;
        ++info_.frames_received;
        // A message of several frames grew the buffer by doubling: up to twice its size, which
        // the pipeline would hold through the decode's peak.
        frame.shrink_to_fit();
        callbacks_.on_frame(std::move(frame), c->last_seen);
        Publish();
      }
      frame.clear();
      frame_bytes = 0;
    }
  }

  // Pings right after basic_info, then every interval and whenever a config was applied; ends the
  // connection when it is no longer alive (Connection::AliveUntil, §4.1).
  net::awaitable<void> PingLoop(std::shared_ptr<Connection> c) {
    absl::Time next_ping = Now();
    while (c->phase == Connection::Phase::kOpen) {
      const absl::Time now = Now();
      if (std::optional<Ending> dead = c->Overdue(now, options_.ping_timeout)) {
        c->End(*std::move(dead));
        co_return;
      }
      if (c->ping_now || now >= next_ping) {
        c->ping_now = false;
        // §4.1: the payload is exactly the 32-char applied hash.
        const websocket::ping_data payload(applied_hash_.data(), applied_hash_.size());
        c->last_ping_sent = Now();
        beast::error_code ec;
        co_await c->ws.async_ping(payload, net::redirect_error(net::use_awaitable, ec));
        if (ec) {
          c->End(EndingOf(*c, "ping", ec));
          co_return;
        }
        log::Debug(kLog, "ping", {{"config_hash", applied_hash_}});
        next_ping = c->last_ping_sent + options_.ping_interval;
        continue;
      }
      c->ping_timer.expires_at(TimerDeadline(
          *options_.clock, std::min(next_ping, c->AliveUntil(options_.ping_timeout))));
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
    c->End(c->close_reason);
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
    switch (credentials_.Check(Now())) {
      case CredentialWatch::Verdict::kUnchanged:
      case CredentialWatch::Verdict::kStillRefused:
        return;
      case CredentialWatch::Verdict::kReverted:
        info_.cert_error = absl::OkStatus();
        Publish();
        return;
      case CredentialWatch::Verdict::kRefused:
        log::Error(kLog,
                   "cluster certificate files changed but are unusable, keeping the current "
                   "certificate",
                   {{"err", credentials_.refusal().message()},
                    {"in_use", credentials_.current().subject}});
        info_.cert_error = credentials_.refusal();
        ++info_.cert_rotations_refused;
        Publish();
        return;
      case CredentialWatch::Verdict::kRotated:
        break;
    }
    const TlsCredentials& fresh = credentials_.current();
    ++info_.cert_rotations;
    info_.cert_error = absl::OkStatus();
    log::Info(kLog, "cluster certificate rotated, reconnecting to present it",
              {{"subject", fresh.subject}, {"not_after", absl::FormatTime(fresh.not_after)}});
    NoteCurrentCredentials();
    Publish();
    Reconnect({FailureCause::kRotation,
               absl::UnavailableError("reconnecting to present the rotated cluster certificate")});
  }

  // Ends the current connection (gracefully when established) and retries without backoff.
  void Reconnect(Ending why) {
    retry_now_ = true;
    backoff_timer_.cancel();
    std::shared_ptr<Connection> c = conn_;
    if (!c || c->ended()) return;
    if (c->phase == Connection::Phase::kConnecting) {
      c->End(std::move(why));
      return;
    }
    if (c->phase == Connection::Phase::kClosing) return;
    c->phase = Connection::Phase::kClosing;
    c->close_reason = std::move(why);
    c->ping_timer.cancel();
    Spawn(c, CloseGracefully(c));
  }

  // At start and after each rotation: the certificate in use, in status and in warnings.
  void NoteCurrentCredentials() {
    const TlsCredentials& current = credentials_.current();
    credentials_.WarnAboutCurrent(Now(), info_.cert_key_readable_by_others);
    info_.cert_not_after = current.not_after;
    info_.cert_subject = current.subject;
    info_.cert_key_readable_by_others = current.key_readable_by_others;
  }

  void Spawn(const std::shared_ptr<Connection>& c, net::awaitable<void> task) {
    ++c->tasks;
    net::co_spawn(strand_, std::move(task), [c](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::Error(kLog, "connection task failed", {{"err", ex.what()}});
          c->End({FailureCause::kInternal, absl::InternalError(ex.what())});
        }
      }
      if (--c->tasks == 0) c->done_timer.cancel();
    });
  }

  void BeginStop() {
    stopping_ = true;
    cert_timer_.cancel();
    std::shared_ptr<Connection> c = conn_;
    // A rotation's close already under way ends the connection too; Run then sees stopping_.
    if (c && c->phase == Connection::Phase::kClosing) return;
    Reconnect({FailureCause::kNone, absl::CancelledError("stopped")});
  }

  void Abort() {
    stopping_ = true;
    backoff_timer_.cancel();
    cert_timer_.cancel();
    if (conn_) conn_->End({FailureCause::kNone, absl::CancelledError("stopped")});
  }

  void OnApplied(std::string hash) {
    TETHER_DCHECK(strand_.running_in_this_thread());
    applied_hash_ = std::move(hash);
    // Kong pings at once after each apply, including "same config" (§3.6).
    if (conn_ && conn_->phase == Connection::Phase::kOpen) {
      conn_->ping_now = true;
      conn_->ping_timer.cancel();
    }
  }

  absl::Time Now() const { return options_.clock->Now(); }

  void Publish() {
    TETHER_DCHECK(strand_.running_in_this_thread());
    if (callbacks_.on_change) callbacks_.on_change(info_);
  }

  net::strand<net::io_context::executor_type> strand_;
  const SessionOptions options_;
  const SessionCallbacks callbacks_;

  // Strand-owned state.
  Timer backoff_timer_;
  Timer cert_timer_;  // WatchCredentials sleeps here
  Backoff backoff_;
  std::mt19937_64 rng_;  // jitter on Retry-After waits
  status::ConnectionInfo info_;
  std::string applied_hash_;
  VersionNegotiator negotiator_;
  int search_refusals_ = 0;           // refusals since the search began, for its pauses
  std::shared_ptr<Connection> conn_;  // the current attempt or connection
  bool stopping_ = false;
  bool retry_now_ = false;  // skip the next backoff wait (a rotation asked for a new connection)
  bool end_for_test_ = false;
  CredentialWatch credentials_;  // each attempt's TLS context is built from current()

  const std::string address_;  // host:port, immutable: read from any thread

  Mutex lifecycle_mu_;
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  Notification running_;
  Notification stopped_;
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
  if (!options.basic_info) return absl::InvalidArgumentError("basic_info is required");
  if (!options.negotiate_version && options.node_version.empty()) {
    return absl::InvalidArgumentError("node version is empty");
  }
  if (options.cert_check_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("certificate check interval must be positive");
  }
  if (options.clock != &Clock::ForTimers()) {
    return absl::InvalidArgumentError(
        "the session's clock must be the one its timers follow (a FakeClock, while one exists)");
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

void Session::SetAppliedHash(std::string config_hash) {
  impl_->SetAppliedHash(std::move(config_hash));
}

std::string Session::Url() const { return impl_->Url(); }

void Session::EndUnexpectedlyForTest() { impl_->EndUnexpectedlyForTest(); }

}  // namespace tether::cp

// The socket side of tether-devcp. This is the only devcp translation unit that includes Beast:
// one costs ~40 s and ~1.8 GB to compile.
#include "tools/devcp/control_plane.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "protocol/gzip.h"
#include "protocol/reconfigure.h"
#include "sidecar/common/asio.h"
#include "sidecar/common/log.h"
#include "sidecar/common/mutex.h"
#include "tools/devcp/rules.h"

namespace tether::devcp {
namespace {

using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

constexpr absl::string_view kComponent = "devcp";
// Far beyond a real upgrade request; bounds what an unauthenticated peer can make us buffer.
constexpr uint32_t kMaxRequestHeaderBytes = 32 * 1024;
constexpr std::string_view kServerHeader = "tether-devcp";  // Beast takes std::string_view

SteadyClock::duration ToSteady(absl::Duration d) {
  return std::chrono::duration_cast<SteadyClock::duration>(absl::ToChronoNanoseconds(d));
}

absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Expected network failures stay values (STYLE: no as_tuple in Boost 1.74).
auto Await(beast::error_code& ec) { return net::redirect_error(net::use_awaitable, ec); }

// co_spawn completion: nothing in devcp throws, so an exception here is a bug worth a loud line.
// The coroutine's owner (session or accept loop) is gone by then; the process keeps serving.
std::function<void(std::exception_ptr)> ReportException(absl::string_view what) {
  return [what = std::string(what)](std::exception_ptr error) {
    if (!error) return;
    std::string message = "unknown exception";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
    }
    log::Error(kComponent, "internal error: coroutine threw",
               {{"coroutine", what}, {"err", message}});
  };
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

absl::StatusOr<std::string> Sha256Der(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &size) != 1) {
    return absl::InternalError("X509_digest failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), size);
}

// §1.2 shared mode compares the DP certificate with the CP's own: the first one in the file.
absl::StatusOr<std::string> CertificateDigest(const std::string& path) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (bio == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot open certificate ", path));
  }
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no PEM certificate in ", path));
  }
  return Sha256Der(cert.get());
}

absl::StatusOr<ssl::context> MakeTlsContext(const Options& options) {
  ssl::context context(ssl::context::tls_server);
  SSL_CTX* native = context.native_handle();
  // §1.2: lua_ssl_protocols = TLSv1.2 TLSv1.3.
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  beast::error_code ec;
  context.use_certificate_chain_file(options.cert_path, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load certificate ", options.cert_path, ": ", ec.message()));
  }
  context.use_private_key_file(options.key_path, ssl::context::pem, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load key ", options.key_path, ": ", ec.message()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("key ", options.key_path, " does not match certificate ", options.cert_path));
  }
  // Verifying clients makes OpenSSL require a session id context for session resumption.
  static constexpr unsigned char kSessionContext[] = "tether-devcp";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof(kSessionContext) - 1);
  if (options.mtls == MtlsMode::kShared) {
    // nginx's `ssl_verify_client optional_no_ca`: ask for a certificate and accept any; the
    // digest comparison after the handshake decides (Session::CheckClientCertificate).
    context.set_verify_mode(ssl::verify_peer, ec);
    if (!ec) context.set_verify_callback([](bool, ssl::verify_context&) { return true; }, ec);
  } else {
    // `ssl_verify_client on`, `ssl_client_certificate <ca>`, `ssl_verify_depth 4`.
    context.load_verify_file(options.ca_cert_path, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load CA certificate ", options.ca_cert_path, ": ", ec.message()));
    }
    // Like nginx, name the acceptable CAs in the CertificateRequest.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_cert_path.c_str());
    if (names == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("no CA certificate in ", options.ca_cert_path));
    }
    SSL_CTX_set_client_CA_list(native, names);
    context.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
    if (!ec) context.set_verify_depth(4, ec);
  }
  if (ec) return absl::InternalError(absl::StrCat("tls setup failed: ", ec.message()));
  return context;
}

absl::StatusOr<tcp::acceptor> Listen(net::io_context& io, const std::string& host, uint16_t port) {
  const std::string address = absl::StrCat(host, ":", port);
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

std::string EndpointString(const tcp::socket& socket) {
  beast::error_code ec;
  const tcp::endpoint endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  return absl::StrCat(endpoint.address().to_string(), ":", endpoint.port());
}

// One frame queued to DPs, shared by every connection it goes to. Immutable.
struct Outgoing {
  enum class Kind { kConfig, kRaw };
  Kind kind = Kind::kRaw;
  std::string bytes;
  std::string config_hash;                      // kConfig
  std::vector<std::string> configured_plugins;  // kConfig: what §3.4 gates on
};
using OutgoingPtr = std::shared_ptr<const Outgoing>;

// A TCP socket that holds bytes back while the CP is frozen (ControlPlane::Freeze).
//
// Why: Beast answers pings inside its read operation, so the only way to make a CP silent
// without failing its websocket is to keep bytes from reaching Beast (and TLS). Reads and writes
// wait at the gate before touching the socket, and a read that completes while frozen holds its
// result back until the gate opens. A closed socket skips the gate, so Drop works while frozen.
//
// Threading: sequence-bound to the CP's io thread, like the flag it reads.
class GatedSocket {
 public:
  using executor_type = tcp::socket::executor_type;
  using next_layer_type = tcp::socket;
  using lowest_layer_type = tcp::socket::lowest_layer_type;

  GatedSocket(tcp::socket socket, const bool* frozen)
      : socket_(std::move(socket)), frozen_(frozen), wake_(socket_.get_executor()) {
    // Never expires: Wake() cancels it, which releases every operation waiting on it.
    wake_.expires_at(net::steady_timer::time_point::max());
  }
  GatedSocket(GatedSocket&&) = default;

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  next_layer_type& next_layer() { return socket_; }
  lowest_layer_type& lowest_layer() { return socket_.lowest_layer(); }
  const lowest_layer_type& lowest_layer() const { return socket_.lowest_layer(); }

  // Makes every operation waiting at the gate look again (after Unfreeze or a close).
  void Wake() { wake_.cancel(); }

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return net::async_compose<Token, void(beast::error_code, std::size_t)>(
        TransferOp<MutableBuffers, true>(*this, buffers), token, socket_);
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return net::async_compose<Token, void(beast::error_code, std::size_t)>(
        TransferOp<ConstBuffers, false>(*this, buffers), token, socket_);
  }

 private:
  // Gate, then the socket operation, then the gate again before completing.
  template <typename Buffers, bool kRead>
  class TransferOp {
   public:
    TransferOp(GatedSocket& owner, const Buffers& buffers) : owner_(&owner), buffers_(buffers) {}

    template <typename Self>
    void operator()(Self& self, beast::error_code ec = {}, std::size_t bytes = 0) {
      if (phase_ == Phase::kTransferring) {
        result_ = ec;
        bytes_ = bytes;
        phase_ = Phase::kDelivering;
      }
      if (owner_->Held()) {
        owner_->wake_.async_wait(std::move(self));
        return;
      }
      if (phase_ == Phase::kGated) {
        phase_ = Phase::kTransferring;
        if constexpr (kRead) {
          owner_->socket_.async_read_some(buffers_, std::move(self));
        } else {
          owner_->socket_.async_write_some(buffers_, std::move(self));
        }
        return;
      }
      self.complete(result_, bytes_);
    }

   private:
    enum class Phase { kGated, kTransferring, kDelivering };
    GatedSocket* owner_;
    Buffers buffers_;
    Phase phase_ = Phase::kGated;
    beast::error_code result_;
    std::size_t bytes_ = 0;
  };

  bool Held() const { return *frozen_ && socket_.is_open(); }

  tcp::socket socket_;
  const bool* frozen_;  // ControlPlane::Impl::frozen_, which outlives every socket
  net::steady_timer wake_;
};

using WsStream = websocket::stream<ssl::stream<GatedSocket>>;

class Session;

}  // namespace

// Owns the io thread, the listener, the TLS context and the sessions.
//
// Threading: public methods from any thread except the io thread, which runs everything marked
// "io thread" below; RunOnIo hands work over and waits. post_mu_ guards stopping_ so that no
// work is posted once shutdown has begun.
class ControlPlane::Impl {
 public:
  Impl(Options options, std::unique_ptr<net::io_context> io, ssl::context tls,
       std::string cert_digest, tcp::acceptor acceptor);
  ~Impl() { Stop(); }

  uint16_t port() const { return port_; }
  void Stop();
  // Runs `fn` on the io thread and waits for it; false (and `fn` not run) once stopping.
  bool RunOnIo(const std::function<void()>& fn);
  EventLog& events() { return events_; }

  // --- io thread only ---
  const Options& options() const { return options_; }
  ssl::context& tls() { return tls_; }
  const std::string& cert_digest() const { return cert_digest_; }
  bool frozen() const { return frozen_; }
  const bool* frozen_flag() const { return &frozen_; }
  const OutgoingPtr& config() const { return config_; }
  void SetConfig(OutgoingPtr config);
  void Broadcast(const OutgoingPtr& frame);
  void SetFrozen(bool frozen);
  void CloseAll(absl::string_view reason);
  void DropAll(absl::string_view reason);
  void Unregister(uint64_t connection);

 private:
  net::awaitable<void> AcceptLoop();
  void BeginShutdown();
  std::vector<std::shared_ptr<Session>> SessionsSnapshot() const;

  const Options options_;
  // Declared before everything that holds handles into it, so that it is destroyed after them.
  std::unique_ptr<net::io_context> io_;
  ssl::context tls_;
  const std::string cert_digest_;  // SHA-256 of the CP certificate's DER (shared mode)
  tcp::acceptor acceptor_;
  const uint16_t port_;
  EventLog events_;

  // --- io thread only ---
  // Keeps io_->run() alive until BeginShutdown, even if the accept loop ends early.
  net::executor_work_guard<net::io_context::executor_type> work_;
  net::steady_timer grace_timer_;  // aborts connections whose close outlasts Stop's grace
  bool frozen_ = false;
  bool shutting_down_ = false;
  uint64_t next_connection_ = 0;
  std::map<uint64_t, std::shared_ptr<Session>> sessions_;
  OutgoingPtr config_;  // pushed to each DP right after its basic_info; only SetConfig sets it

  Mutex post_mu_;  // tether::Mutex: visible to TSan, unlike Debian's absl::Mutex
  bool stopping_ ABSL_GUARDED_BY(post_mu_) = false;
  std::once_flag stop_once_;
  std::thread thread_;
};

namespace {

// One DP connection, from TCP accept to close: TLS, the upgrade request, basic_info, then the
// reader (pings), the writer (queued frames) and a watchdog (handshake, basic_info and ping_wait
// deadlines). Every kind of end funnels into End(), which records exactly one kClosed.
//
// Threading: sequence-bound to the CP's io thread (one thread, so no strand is needed). Kept
// alive by its coroutines (shared_from_this) and by the CP's session map until End().
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(ControlPlane::Impl& cp, uint64_t connection, tcp::socket socket)
      : cp_(cp),
        connection_(connection),
        peer_(EndpointString(socket)),
        ws_(GatedSocket(std::move(socket), cp.frozen_flag()), cp.tls()),
        watchdog_(ws_.get_executor()),
        write_signal_(ws_.get_executor()) {
    write_signal_.expires_at(net::steady_timer::time_point::max());
  }

  void Start() {
    net::co_spawn(ws_.get_executor(), Run(shared_from_this()), ReportException("devcp session"));
  }

  // Queues `frame` if the DP is past basic_info, applying the §3.4 gate to configs.
  void Push(const OutgoingPtr& frame);
  // Ends the connection with an empty close frame (§5); before the upgrade, just closes.
  void Close(std::string reason);
  // Ends the connection abruptly: the TCP socket is closed with no close frame.
  void Drop(std::string reason);
  // The CP was frozen: give the DP a full deadline again, and release the gate.
  void Unfreeze();

 private:
  enum class Phase { kHandshake, kBasicInfo, kReady };

  net::awaitable<void> Run(std::shared_ptr<Session> self);
  // TLS handshake and upgrade request; false when the connection was refused.
  net::awaitable<bool> Handshake();
  net::awaitable<void> Respond(http::status status, std::string reason);
  absl::Status CheckClientCertificate();
  void HandleBasicInfo(std::string data, bool binary);
  // Reads until the connection ends; any data frame is a protocol violation.
  net::awaitable<beast::error_code> ReadLoop();
  void OnControlFrame(websocket::frame_type kind, std::string_view payload);
  net::awaitable<void> WriteLoop(std::shared_ptr<Session> self);
  net::awaitable<void> Watchdog(std::shared_ptr<Session> self);
  net::awaitable<void> SendClose(std::shared_ptr<Session> self);
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
  ssl::stream<GatedSocket>& tls() { return ws_.next_layer(); }
  GatedSocket& gated() { return ws_.next_layer().next_layer(); }
  tcp::socket& socket() { return ws_.next_layer().next_layer().next_layer(); }
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
  std::string node_version_;
  std::set<std::string> dp_plugins_;  // from basic_info
  std::deque<OutgoingPtr> queue_;
};

net::awaitable<void> Session::Run(std::shared_ptr<Session> self) {
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
  if (!ec) ec = co_await ReadLoop();
  End(ec);
}

net::awaitable<bool> Session::Handshake() {
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

net::awaitable<void> Session::Respond(http::status status, std::string reason) {
  const int code = static_cast<int>(status);
  if (closing_) co_return;
  Reject(code, reason);  // records the event; the socket closes after the response below
  http::response<http::string_body> response{status, 11};
  response.set(http::field::server, kServerHeader);
  response.set(http::field::content_type, "text/plain");
  response.keep_alive(false);
  response.body() = absl::StrCat(reason, "\n");
  response.prepare_payload();
  beast::error_code ec;
  co_await http::async_write(tls(), response, Await(ec));
  // No TLS close_notify exchange: nothing follows a refusal, and the DP may not answer one.
  socket().shutdown(tcp::socket::shutdown_both, ec);
  CloseSocket();
}

absl::Status Session::CheckClientCertificate() {
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

void Session::HandleBasicInfo(std::string data, bool binary) {
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
    Close("kong_version_incompatible");
    return;
  }
  dp_plugins_ = std::move(info->plugins);
  phase_ = Phase::kReady;
  ResetDeadline(cp_.options().ping_wait);
  net::co_spawn(ws_.get_executor(), WriteLoop(shared_from_this()), ReportException("devcp writer"));
  // §3.3: the current config is the first frame a DP receives after basic_info.
  if (cp_.config() != nullptr) Push(cp_.config());
}

net::awaitable<beast::error_code> Session::ReadLoop() {
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

void Session::OnControlFrame(websocket::frame_type kind, std::string_view payload) {
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

void Session::Push(const OutgoingPtr& frame) {
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

net::awaitable<void> Session::WriteLoop(std::shared_ptr<Session> self) {
  beast::error_code ec;
  // Beast allows one write in flight; this loop is the only writer of data frames.
  while (!closing_) {
    if (queue_.empty()) {
      co_await write_signal_.async_wait(Await(ec));
      continue;
    }
    const OutgoingPtr frame = std::move(queue_.front());
    queue_.pop_front();
    co_await ws_.async_write(net::buffer(frame->bytes), Await(ec));
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

net::awaitable<void> Session::Watchdog(std::shared_ptr<Session> self) {
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

void Session::Fault(std::string reason) {
  if (closing_) return;
  Event event = NewEvent(EventKind::kInvalidFrame);
  event.reason = reason;
  log::Info(kComponent, "invalid frame", {{"connection", connection_}, {"err", reason}});
  cp_.events().Record(std::move(event));
  Close(std::move(reason));
}

void Session::Reject(int http_status, std::string reason, std::string detail) {
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

void Session::Close(std::string reason) {
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

net::awaitable<void> Session::SendClose(std::shared_ptr<Session> self) {
  beast::error_code ec;
  // Kong's close frames carry no status code (§5). Bounded by the handshake timeout option; the
  // pending read then ends with websocket::error::closed, or an error.
  co_await ws_.async_close(websocket::close_reason(websocket::close_code::none), Await(ec));
  CloseSocket();
}

void Session::Drop(std::string reason) {
  if (!end_reason_.has_value()) end_reason_ = std::move(reason);
  closing_ = true;
  watchdog_.cancel();
  write_signal_.cancel();
  CloseSocket();
}

void Session::Unfreeze() {
  const SteadyClock::time_point restart = SteadyClock::now() + ToSteady(PhaseTimeout());
  if (deadline_ < restart) deadline_ = restart;
  gated().Wake();
}

void Session::End(const beast::error_code& ec) {
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

}  // namespace

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
    auto session = std::make_shared<Session>(*this, connection, std::move(socket));
    sessions_.emplace(connection, session);
    session->Start();
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

ControlPlane::ControlPlane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControlPlane::~ControlPlane() { Stop(); }

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Create(Options options) {
  if (options.cert_path.empty() || options.key_path.empty()) {
    return absl::InvalidArgumentError("a certificate and a key are required");
  }
  if (options.mtls == MtlsMode::kPki && options.ca_cert_path.empty()) {
    return absl::InvalidArgumentError("pki mode requires a CA certificate");
  }
  if (!ParseKongVersion(options.version).has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("version \"", options.version, "\" is not a Kong version (x.y.z)"));
  }
  if (options.ping_wait <= absl::ZeroDuration() ||
      options.handshake_timeout <= absl::ZeroDuration() ||
      options.basic_info_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "ping_wait, handshake_timeout and basic_info_timeout must be positive");
  }
  if (options.max_payload_bytes == 0) {
    return absl::InvalidArgumentError("max_payload_bytes must be positive");
  }
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
  log::Info(
      kComponent, "listening",
      {{"address", absl::StrCat(host, ":", impl->port())}, {"mtls", mtls}, {"version", version}});
  return std::unique_ptr<ControlPlane>(new ControlPlane(std::move(impl)));
}

uint16_t ControlPlane::port() const { return impl_->port(); }

void ControlPlane::Stop() { impl_->Stop(); }

absl::StatusOr<std::string> ControlPlane::SetConfig(absl::string_view config_table_json) {
  absl::StatusOr<protocol::Reconfigure> message =
      protocol::BuildReconfigure(config_table_json, absl::Now());
  if (!message.ok()) return message.status();
  auto frame = std::make_shared<Outgoing>();
  frame->kind = Outgoing::Kind::kConfig;
  frame->bytes = protocol::Gzip(message->message_json);
  frame->config_hash = message->config_hash;
  frame->configured_plugins = std::move(message->configured_plugins);
  if (!impl_->RunOnIo([&] { impl_->SetConfig(frame); })) {
    return absl::FailedPreconditionError("control plane is stopped");
  }
  log::Info(kComponent, "config set",
            {{"config_hash", frame->config_hash},
             {"json_bytes", message->message_json.size()},
             {"gzip_bytes", frame->bytes.size()}});
  return frame->config_hash;
}

void ControlPlane::PushMessage(absl::string_view message_json) {
  auto frame = std::make_shared<Outgoing>();
  frame->bytes = protocol::Gzip(message_json);
  impl_->RunOnIo([&] { impl_->Broadcast(frame); });
}

void ControlPlane::PushRawFrame(std::string bytes) {
  auto frame = std::make_shared<Outgoing>();
  frame->bytes = std::move(bytes);
  impl_->RunOnIo([&] { impl_->Broadcast(frame); });
}

void ControlPlane::Freeze() {
  impl_->RunOnIo([&] { impl_->SetFrozen(true); });
}

void ControlPlane::Unfreeze() {
  impl_->RunOnIo([&] { impl_->SetFrozen(false); });
}

void ControlPlane::CloseAll() {
  impl_->RunOnIo([&] { impl_->CloseAll("closed by CloseAll"); });
}

void ControlPlane::DropAll() {
  impl_->RunOnIo([&] { impl_->DropAll("dropped by DropAll"); });
}

std::vector<Event> ControlPlane::Events() const { return impl_->events().Events(); }

std::optional<Event> ControlPlane::WaitForEvent(const EventPredicate& predicate,
                                                absl::Duration timeout) const {
  return impl_->events().WaitFor(predicate, 1, timeout);
}

std::optional<Event> ControlPlane::WaitForEventCount(const EventPredicate& predicate, size_t n,
                                                     absl::Duration timeout) const {
  return impl_->events().WaitFor(predicate, n, timeout);
}

}  // namespace tether::devcp

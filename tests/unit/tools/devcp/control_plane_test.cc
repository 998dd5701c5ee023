// ControlPlane against a minimal data plane written here with Beast: real TLS on loopback with
// Kong's fixture certificates. Waits are on events (the CP's log, or frames at the client),
// each bounded by kWait so that a failure fails instead of hanging.
#include "tools/devcp/control_plane.h"

#include <zlib.h>

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "sidecar/common/asio.h"

namespace tether::devcp {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using tcp = net::ip::tcp;

constexpr absl::Duration kWait = absl::Seconds(10);
constexpr char kNodeId[] = "0b3b1c39-5a8a-4a9f-9d3c-6f9f3f0e2a11";
constexpr char kBasicInfo[] =
    R"({"type":"basic_info","plugins":[{"name":"key-auth","version":"3.10.0"}],"filters":{}})";
// The §3.5 test vector, so the hash is checked against Kong, not against our own code.
constexpr char kConfig[] = R"({"routes":[],"services":[],"plugins":[]})";
constexpr char kConfigHash[] = "81aac97a81ad03c0cf0b36663806488e";
const std::string kZeroHash(32, '0');

std::string Cert(absl::string_view name) {
  return absl::StrCat(TETHER_FIXTURES_DIR, "/certs/", name);
}

std::string Target(absl::string_view node_version = "3.10.0") {
  return absl::StrCat("/v1/outlet?node_id=", kNodeId,
                      "&node_hostname=dp.test&node_version=", node_version);
}

// RFC 1952 decoding with zlib's automatic header detection, as Kong's DP does (§3.1).
std::optional<std::string> Gunzip(const std::string& in) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 32) != Z_OK) return std::nullopt;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  stream.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char chunk[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof(chunk);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(chunk, sizeof(chunk) - stream.avail_out);
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

struct Identity {
  std::string cert;
  std::string key;
};
Identity SharedIdentity() { return {Cert("kong_clustering.crt"), Cert("kong_clustering.key")}; }
Identity PkiClientIdentity() {
  return {Cert("kong_clustering_client.crt"), Cert("kong_clustering_client.key")};
}

// A minimal data plane. Runs its own io_context on the test thread: each call drives it until
// what it waits for has happened, or kWait has passed.
class TestDp {
 public:
  // `identity` empty: present no client certificate.
  explicit TestDp(std::optional<Identity> identity = SharedIdentity())
      : tls_(ssl::context::tls_client) {
    tls_.set_verify_mode(ssl::verify_peer);
    tls_.load_verify_file(Cert("kong_clustering.crt"));
    if (identity.has_value()) {
      tls_.use_certificate_chain_file(identity->cert);
      tls_.use_private_key_file(identity->key, ssl::context::pem);
    }
    // The SSL object copies the context's settings, so it is made only now.
    ws_.emplace(io_, tls_);
    // §1.2: shared mode hard-codes SNI and the verified name.
    SSL_set_tlsext_host_name(ws_->next_layer().native_handle(), "kong_clustering");
    ws_->next_layer().set_verify_callback(ssl::host_name_verification("kong_clustering"));
    ws_->control_callback([this](websocket::frame_type kind, std::string_view payload) {
      if (kind == websocket::frame_type::pong) pongs_.emplace_back(payload);
    });
  }

  // TCP, TLS and the websocket upgrade; the upgrade's error (the HTTP answer in http_status()).
  beast::error_code Connect(uint16_t port, const std::string& target = Target()) {
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                                          ec);
    if (ec) return ec;
    beast::get_lowest_layer(*ws_).set_option(tcp::no_delay(true), ec);
    ec = Do([&](auto handler) {
      ws_->next_layer().async_handshake(ssl::stream_base::client, handler);
    });
    if (ec) return ec;
    ws_->binary(true);
    return Do([&](auto handler) {
      ws_->async_handshake(response_, absl::StrCat("127.0.0.1:", port), target, handler);
    });
  }

  // Connects and sends basic_info; fails the test if either fails.
  void Join(uint16_t port, const std::string& basic_info = kBasicInfo) {
    ASSERT_FALSE(Connect(port)) << "connect failed";
    ASSERT_FALSE(Send(basic_info));
  }

  beast::error_code Send(absl::string_view data, bool binary = true) {
    ws_->binary(binary);
    return Do(
        [&](auto handler) { ws_->async_write(net::buffer(data.data(), data.size()), handler); });
  }

  beast::error_code Ping(absl::string_view payload) {
    return Do([&](auto handler) {
      ws_->async_ping(websocket::ping_data(payload.data(), payload.size()), handler);
    });
  }

  // The next data message; nullopt when the connection ended first or `wait` passed.
  std::optional<std::string> NextMessage(absl::Duration wait = kWait) {
    StartRead();
    RunUntil([&] { return !messages_.empty() || read_error_.has_value(); }, wait);
    return Pop(messages_);
  }

  std::optional<std::string> NextPong(absl::Duration wait = kWait) {
    StartRead();
    RunUntil([&] { return !pongs_.empty() || read_error_.has_value(); }, wait);
    return Pop(pongs_);
  }

  // Reads until the connection ends: websocket::error::closed after a close frame.
  beast::error_code WaitClosed() {
    StartRead();
    if (!RunUntil([&] { return read_error_.has_value(); }, kWait)) return beast::error::timeout;
    return *read_error_;
  }

  websocket::close_reason close_reason() const { return ws_->reason(); }
  unsigned http_status() const { return response_.result_int(); }

 private:
  static std::optional<std::string> Pop(std::deque<std::string>& queue) {
    if (queue.empty()) return std::nullopt;
    std::string front = std::move(queue.front());
    queue.pop_front();
    return front;
  }

  // Starts one async operation with a handler that stores its error, and runs until it ends.
  template <typename Start>
  beast::error_code Do(Start start) {
    std::optional<beast::error_code> result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    if (!RunUntil([&] { return result.has_value(); }, kWait)) {
      // Abort, then let the operation finish so that its handler never outlives `result`.
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).close(ignored);
      RunUntil([&] { return result.has_value(); }, kWait);
      return beast::error::timeout;
    }
    return *result;
  }

  // Keeps one read pending from the first wait on, so pongs and close frames are processed.
  void StartRead() {
    if (reading_ || read_error_.has_value()) return;
    reading_ = true;
    ws_->async_read(buffer_, [this](beast::error_code ec, std::size_t) {
      reading_ = false;
      if (ec) {
        read_error_ = ec;
        return;
      }
      messages_.push_back(beast::buffers_to_string(buffer_.data()));
      buffer_.clear();
      StartRead();
    });
  }

  bool RunUntil(const std::function<bool()>& done, absl::Duration wait) {
    const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(wait);
    io_.restart();
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      // Nothing pending means nothing can change the outcome any more.
      if (io_.run_one_until(deadline) == 0 && io_.stopped()) return done();
    }
    return true;
  }

  net::io_context io_;
  ssl::context tls_;
  std::optional<websocket::stream<ssl::stream<tcp::socket>>> ws_;
  websocket::response_type response_;
  beast::flat_buffer buffer_;
  bool reading_ = false;
  std::deque<std::string> messages_;
  std::deque<std::string> pongs_;
  std::optional<beast::error_code> read_error_;
};

Options SharedOptions() {
  Options options;
  options.cert_path = Cert("kong_clustering.crt");
  options.key_path = Cert("kong_clustering.key");
  return options;
}

Options PkiOptions() {
  Options options = SharedOptions();
  options.mtls = MtlsMode::kPki;
  options.ca_cert_path = Cert("kong_clustering_ca.crt");
  return options;
}

std::unique_ptr<ControlPlane> StartCp(Options options = SharedOptions()) {
  absl::StatusOr<std::unique_ptr<ControlPlane>> cp = ControlPlane::Create(std::move(options));
  EXPECT_TRUE(cp.ok()) << cp.status();
  return cp.ok() ? *std::move(cp) : nullptr;
}

// The decoded reconfigure message, or a parse failure recorded in the test.
rapidjson::Document DecodeReconfigure(const std::optional<std::string>& frame) {
  rapidjson::Document doc;
  EXPECT_TRUE(frame.has_value()) << "no frame";
  if (!frame.has_value()) return doc;
  std::optional<std::string> json = Gunzip(*frame);
  EXPECT_TRUE(json.has_value()) << "not gzip";
  if (json.has_value()) doc.Parse(json->c_str());
  return doc;
}

// A DP that sends basic_info receives the current config, gzipped, with Kong's hash.
TEST(ControlPlaneTest, PushesConfigAfterBasicInfo) {
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  absl::StatusOr<std::string> hash = cp->SetConfig(kConfig);
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(*hash, kConfigHash);

  TestDp dp;
  dp.Join(cp->port());
  rapidjson::Document message = DecodeReconfigure(dp.NextMessage());
  ASSERT_TRUE(message.IsObject());
  EXPECT_STREQ(message["type"].GetString(), "reconfigure");
  EXPECT_STREQ(message["config_hash"].GetString(), kConfigHash);
  EXPECT_STREQ(message["hashes"]["config"].GetString(), kConfigHash);
  EXPECT_TRUE(message["timestamp"].IsNumber());
  EXPECT_TRUE(message["config_table"]["services"].IsArray());

  std::optional<Event> connected = cp->WaitForEvent(OfKind(EventKind::kConnected), kWait);
  ASSERT_TRUE(connected.has_value());
  EXPECT_EQ(connected->node_id, kNodeId);
  EXPECT_EQ(connected->node_hostname, "dp.test");
  EXPECT_EQ(connected->node_version, "3.10.0");
  EXPECT_THAT(connected->peer, StartsWith("127.0.0.1:"));
  std::optional<Event> basic_info = cp->WaitForEvent(OfKind(EventKind::kBasicInfo), kWait);
  ASSERT_TRUE(basic_info.has_value());
  EXPECT_EQ(basic_info->payload, kBasicInfo);
  std::optional<Event> pushed = cp->WaitForEvent(OfKind(EventKind::kConfigPushed), kWait);
  ASSERT_TRUE(pushed.has_value());
  EXPECT_EQ(pushed->config_hash, kConfigHash);
}

// A new config reaches DPs that are already connected.
TEST(ControlPlaneTest, PushesEachNewConfig) {
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  dp.Join(cp->port());
  ASSERT_TRUE(cp->WaitForEvent(OfKind(EventKind::kBasicInfo), kWait).has_value());
  absl::StatusOr<std::string> hash = cp->SetConfig(R"({"upstreams":[],"targets":[]})");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(*hash, "4d60dd9998ea4314039da5ca2f1db96f");
  rapidjson::Document message = DecodeReconfigure(dp.NextMessage());
  ASSERT_TRUE(message.IsObject());
  EXPECT_STREQ(message["config_hash"].GetString(), "4d60dd9998ea4314039da5ca2f1db96f");
  EXPECT_EQ(cp->SetConfig("{oops").status().code(), absl::StatusCode::kInvalidArgument);
}

// Refusals before the upgrade, each with the HTTP answer (or none: 444) Kong gives (§1, §5).
TEST(ControlPlaneTest, RefusesBadUpgrades) {
  struct Case {
    const char* name;
    std::optional<Identity> identity;
    std::string target;
    int http_status;
    const char* reason;
  };
  const Case cases[] = {
      {"wrong client certificate", PkiClientIdentity(), Target(), 444,
       "data plane presented incorrect client certificate during handshake (digest does not "
       "match the control plane certificate)"},
      {"no client certificate", std::nullopt, Target(), 444,
       "data plane failed to present client certificate during handshake"},
      {"missing node_version", SharedIdentity(),
       absl::StrCat("/v1/outlet?node_id=", kNodeId, "&node_hostname=dp.test"), 400,
       "missing node_id or node_version query parameter"},
      {"missing node_id", SharedIdentity(), "/v1/outlet?node_version=3.10.0", 400,
       "missing node_id or node_version query parameter"},
      {"other path", SharedIdentity(), "/v2/outlet?node_id=x&node_version=3.10.0", 404,
       "no route for /v2/outlet"},
  };
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  uint64_t connection = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ++connection;
    TestDp dp(c.identity);
    EXPECT_TRUE(dp.Connect(cp->port(), c.target));
    if (c.http_status != 444) {
      EXPECT_EQ(dp.http_status(), static_cast<unsigned>(c.http_status));
    }
    std::optional<Event> rejected =
        cp->WaitForEvent(OfKind(EventKind::kHandshakeRejected, connection), kWait);
    ASSERT_TRUE(rejected.has_value());
    EXPECT_EQ(rejected->http_status, c.http_status);
    EXPECT_EQ(rejected->reason, c.reason);
    std::optional<Event> closed = cp->WaitForEvent(OfKind(EventKind::kClosed, connection), kWait);
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->closed_by, Closer::kControlPlane);
  }
  EXPECT_FALSE(cp->WaitForEvent(OfKind(EventKind::kConnected), absl::ZeroDuration()).has_value());
}

// §2: a DP on another major, or on a newer minor, is closed after basic_info; older minors and
// other patches are served.
TEST(ControlPlaneTest, ChecksDataPlaneVersion) {
  struct Case {
    const char* version;
    bool accepted;
  };
  const Case cases[] = {
      {"3.10.0", true},  {"3.9.2", true},  {"3.10.3", true},
      {"3.11.0", false}, {"4.0.0", false}, {"2.8.4", false},
  };
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  ASSERT_TRUE(cp->SetConfig(kConfig).ok());
  uint64_t connection = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.version);
    ++connection;
    TestDp dp;
    ASSERT_FALSE(dp.Connect(cp->port(), Target(c.version)));
    ASSERT_FALSE(dp.Send(kBasicInfo));
    if (c.accepted) {
      EXPECT_TRUE(dp.NextMessage().has_value());
      continue;
    }
    EXPECT_EQ(dp.WaitClosed(), websocket::error::closed);
    EXPECT_EQ(dp.close_reason().code, websocket::close_code::none);  // an empty close frame
    std::optional<Event> rejected =
        cp->WaitForEvent(OfKind(EventKind::kHandshakeRejected, connection), kWait);
    ASSERT_TRUE(rejected.has_value());
    EXPECT_EQ(rejected->reason, "kong_version_incompatible");
    std::optional<Event> closed = cp->WaitForEvent(OfKind(EventKind::kClosed, connection), kWait);
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->reason, "kong_version_incompatible");
  }
}

TEST(ControlPlaneTest, ClosesOnInvalidBasicInfo) {
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  dp.Join(cp->port(), R"({"type":"basic_info"})");
  EXPECT_EQ(dp.WaitClosed(), websocket::error::closed);
  std::optional<Event> invalid = cp->WaitForEvent(OfKind(EventKind::kInvalidFrame), kWait);
  ASSERT_TRUE(invalid.has_value());
  EXPECT_EQ(invalid->reason, "missing plugins in basic info data");
}

// §4.2: after basic_info, a data frame ends the connection with Kong's reason.
TEST(ControlPlaneTest, ClosesOnTextFrame) {
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  dp.Join(cp->port());
  ASSERT_FALSE(dp.Send(kZeroHash, /*binary=*/false));
  EXPECT_EQ(dp.WaitClosed(), websocket::error::closed);
  std::optional<Event> invalid = cp->WaitForEvent(OfKind(EventKind::kInvalidFrame), kWait);
  ASSERT_TRUE(invalid.has_value());
  EXPECT_EQ(invalid->reason, "invalid websocket frame received from data plane: text");
  std::optional<Event> closed = cp->WaitForEvent(OfKind(EventKind::kClosed), kWait);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->closed_by, Closer::kControlPlane);
  EXPECT_EQ(closed->reason, invalid->reason);
}

TEST(ControlPlaneTest, ClosesOnShortPing) {
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  dp.Join(cp->port());
  ASSERT_FALSE(dp.Ping(std::string(31, 'a')));
  EXPECT_EQ(dp.WaitClosed(), websocket::error::closed);
  std::optional<Event> invalid = cp->WaitForEvent(OfKind(EventKind::kInvalidFrame), kWait);
  ASSERT_TRUE(invalid.has_value());
  EXPECT_THAT(invalid->reason,
              StartsWith("received a ping frame from the data plane with an invalid hash: 'aaa"));
  EXPECT_FALSE(cp->WaitForEvent(OfKind(EventKind::kPing), absl::ZeroDuration()).has_value());
}

TEST(ControlPlaneTest, AnswersValidPing) {
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  dp.Join(cp->port());
  ASSERT_FALSE(dp.Ping(kZeroHash));
  std::optional<std::string> pong = dp.NextPong();
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(*pong, kZeroHash);  // Beast echoes the payload; Kong's pong would be empty
  std::optional<Event> ping = cp->WaitForEvent(OfKind(EventKind::kPing), kWait);
  ASSERT_TRUE(ping.has_value());
  EXPECT_EQ(ping->payload, kZeroHash);
}

// §3.4: a DP without a configured plugin gets no config but stays connected.
TEST(ControlPlaneTest, WithholdsConfigWhenPluginMissing) {
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  absl::StatusOr<std::string> hash =
      cp->SetConfig(R"({"plugins":[{"name":"key-auth"},{"name":"rate-limiting"}]})");
  ASSERT_TRUE(hash.ok()) << hash.status();
  TestDp dp;
  dp.Join(cp->port());
  std::optional<Event> withheld = cp->WaitForEvent(OfKind(EventKind::kConfigWithheld), kWait);
  ASSERT_TRUE(withheld.has_value());
  EXPECT_EQ(withheld->reason, "plugin_set_incompatible");
  EXPECT_EQ(withheld->detail, "configured rate-limiting plugin is missing from data plane");
  EXPECT_EQ(withheld->config_hash, *hash);
  // Still connected: a ping is answered, and no config was sent before the pong.
  ASSERT_FALSE(dp.Ping(kZeroHash));
  EXPECT_TRUE(dp.NextPong().has_value());
  EXPECT_FALSE(dp.NextMessage(absl::ZeroDuration()).has_value());
  EXPECT_FALSE(
      cp->WaitForEvent(OfKind(EventKind::kConfigPushed), absl::ZeroDuration()).has_value());
}

// §4.2: silence for ping_wait gets an empty close frame.
TEST(ControlPlaneTest, ClosesSilentDataPlane) {
  Options options = SharedOptions();
  options.ping_wait = absl::Milliseconds(200);
  auto cp = StartCp(options);
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  dp.Join(cp->port());
  EXPECT_EQ(dp.WaitClosed(), websocket::error::closed);
  std::optional<Event> closed = cp->WaitForEvent(OfKind(EventKind::kClosed), kWait);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->closed_by, Closer::kControlPlane);
  EXPECT_EQ(closed->reason, "did not receive ping frame from data plane within 0.2 seconds");
}

// §2: no basic_info within the timeout gets an empty close frame.
TEST(ControlPlaneTest, ClosesWithoutBasicInfo) {
  Options options = SharedOptions();
  options.basic_info_timeout = absl::Milliseconds(200);
  auto cp = StartCp(options);
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  ASSERT_FALSE(dp.Connect(cp->port()));
  EXPECT_EQ(dp.WaitClosed(), websocket::error::closed);
  std::optional<Event> closed = cp->WaitForEvent(OfKind(EventKind::kClosed), kWait);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->reason, "failed to receive websocket basic info frame: timeout");
}

TEST(ControlPlaneTest, PkiModeAcceptsCaIssuedClient) {
  auto cp = StartCp(PkiOptions());
  ASSERT_NE(cp, nullptr);
  ASSERT_TRUE(cp->SetConfig(kConfig).ok());
  TestDp dp(PkiClientIdentity());
  dp.Join(cp->port());
  rapidjson::Document message = DecodeReconfigure(dp.NextMessage());
  ASSERT_TRUE(message.IsObject());
  EXPECT_STREQ(message["config_hash"].GetString(), kConfigHash);
}

TEST(ControlPlaneTest, PkiModeRejectsClientFromOtherIssuer) {
  auto cp = StartCp(PkiOptions());
  ASSERT_NE(cp, nullptr);
  TestDp dp(SharedIdentity());  // self-signed, not issued by kong_clustering_ca
  EXPECT_TRUE(dp.Connect(cp->port()));
  std::optional<Event> rejected = cp->WaitForEvent(OfKind(EventKind::kHandshakeRejected), kWait);
  ASSERT_TRUE(rejected.has_value());
  EXPECT_EQ(rejected->http_status, 0);
  EXPECT_THAT(rejected->reason, StartsWith("tls handshake failed"));
}

// A frozen CP reads nothing, so a ping is answered only after Unfreeze.
TEST(ControlPlaneTest, FreezeHoldsPongsUntilUnfreeze) {
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  dp.Join(cp->port());
  ASSERT_TRUE(cp->WaitForEvent(OfKind(EventKind::kBasicInfo), kWait).has_value());
  cp->Freeze();
  ASSERT_FALSE(dp.Ping(kZeroHash));
  // Proving an absence needs a bound; 300 ms is ample for a loopback round trip.
  EXPECT_FALSE(dp.NextPong(absl::Milliseconds(300)).has_value());
  EXPECT_FALSE(cp->WaitForEvent(OfKind(EventKind::kPing), absl::ZeroDuration()).has_value());
  const absl::Time unfrozen = absl::Now();
  cp->Unfreeze();
  EXPECT_TRUE(dp.NextPong().has_value());
  std::optional<Event> ping = cp->WaitForEvent(OfKind(EventKind::kPing), kWait);
  ASSERT_TRUE(ping.has_value());
  EXPECT_GE(ping->time, unfrozen);
}

TEST(ControlPlaneTest, CloseAllSendsEmptyCloseFrame) {
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  dp.Join(cp->port());
  ASSERT_TRUE(cp->WaitForEvent(OfKind(EventKind::kBasicInfo), kWait).has_value());
  cp->CloseAll();
  EXPECT_EQ(dp.WaitClosed(), websocket::error::closed);
  EXPECT_EQ(dp.close_reason().code, websocket::close_code::none);
  std::optional<Event> closed = cp->WaitForEvent(OfKind(EventKind::kClosed), kWait);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->closed_by, Closer::kControlPlane);
}

TEST(ControlPlaneTest, DropAllSendsNoCloseFrame) {
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  dp.Join(cp->port());
  ASSERT_TRUE(cp->WaitForEvent(OfKind(EventKind::kBasicInfo), kWait).has_value());
  cp->DropAll();
  const beast::error_code ec = dp.WaitClosed();
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, websocket::error::closed);
  EXPECT_NE(ec, beast::error::timeout);
}

TEST(ControlPlaneTest, PushesRawFramesAndMessagesAsGiven) {
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  dp.Join(cp->port());
  ASSERT_TRUE(cp->WaitForEvent(OfKind(EventKind::kBasicInfo), kWait).has_value());
  cp->PushRawFrame("not gzip");
  EXPECT_EQ(dp.NextMessage(), "not gzip");
  cp->PushMessage("{not json");
  std::optional<std::string> frame = dp.NextMessage();
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(Gunzip(*frame), "{not json");
  EXPECT_TRUE(cp->WaitForEventCount(OfKind(EventKind::kRawPushed), 2, kWait).has_value());
}

// Stop says goodbye with an empty close frame, and is idempotent.
TEST(ControlPlaneTest, StopClosesConnections) {
  auto cp = StartCp();
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  dp.Join(cp->port());
  ASSERT_TRUE(cp->WaitForEvent(OfKind(EventKind::kBasicInfo), kWait).has_value());
  std::thread stopper([&cp] { cp->Stop(); });
  EXPECT_EQ(dp.WaitClosed(), websocket::error::closed);
  stopper.join();
  cp->Stop();
  EXPECT_EQ(cp->SetConfig(kConfig).status().code(), absl::StatusCode::kFailedPrecondition);
  std::optional<Event> closed = cp->WaitForEvent(OfKind(EventKind::kClosed), absl::ZeroDuration());
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->reason, "control plane stopping");
}

TEST(ControlPlaneTest, CreateRejectsBadOptions) {
  Options no_key = SharedOptions();
  no_key.key_path.clear();
  EXPECT_EQ(ControlPlane::Create(no_key).status().code(), absl::StatusCode::kInvalidArgument);
  Options missing_file = SharedOptions();
  missing_file.cert_path = "/nonexistent.crt";
  EXPECT_EQ(ControlPlane::Create(missing_file).status().code(), absl::StatusCode::kInvalidArgument);
  Options pki_without_ca = PkiOptions();
  pki_without_ca.ca_cert_path.clear();
  EXPECT_EQ(ControlPlane::Create(pki_without_ca).status().code(),
            absl::StatusCode::kInvalidArgument);
  Options bad_version = SharedOptions();
  bad_version.version = "three";
  EXPECT_EQ(ControlPlane::Create(bad_version).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tether::devcp

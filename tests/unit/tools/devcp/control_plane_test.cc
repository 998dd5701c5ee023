// ControlPlane against TestDp (test_dp.h), a minimal Beast data plane over loopback TLS. Waits
// are on events (the CP's log, or frames at the client), each bounded by kWait.
#include "tools/devcp/control_plane.h"

#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "sidecar/common/asio.h"
#include "tests/unit/tools/devcp/test_dp.h"

namespace tether::devcp {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

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
    // The CP hangs up right after its close frame, so the DP's reply fails: the read ends with
    // a TLS or socket error after the close frame, rather than with websocket::error::closed.
    EXPECT_NE(dp.WaitClosed(), beast::error::timeout);
    EXPECT_TRUE(dp.got_close_frame());
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

// §2 as Kong refuses (`send_close()`, then `ngx.exit(444)`): the CP closes the connection right
// after its close frame. This DP does not read until the CP has closed, so a CP that awaited the
// DP's close frame would hold the connection until handshake_timeout.
TEST(ControlPlaneTest, VersionRefusalHangsUpAtOnce) {
  Options options = SharedOptions();
  options.handshake_timeout = absl::Seconds(30);
  auto cp = StartCp(options);
  ASSERT_NE(cp, nullptr);
  TestDp dp;
  ASSERT_FALSE(dp.Connect(cp->port(), Target("3.11.0")));
  ASSERT_FALSE(dp.Send(kBasicInfo));
  // Bytes the CP leaves unread when it hangs up (so its kernel may answer with a reset); the
  // write itself may already fail, which is not what this test is about.
  (void)dp.Ping(kZeroHash);
  std::optional<Event> closed = cp->WaitForEvent(OfKind(EventKind::kClosed), absl::Seconds(5));
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->closed_by, Closer::kControlPlane);
  EXPECT_EQ(closed->reason, "kong_version_incompatible");
  const beast::error_code ec = dp.WaitClosed();
  EXPECT_TRUE(ec);
  EXPECT_NE(ec, beast::error::timeout);
  EXPECT_FALSE(cp->WaitForEvent(OfKind(EventKind::kPing), absl::ZeroDuration()).has_value());
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
  EXPECT_EQ(*pong, "");  // like Kong's (§4.1), though Beast echoes the ping's payload
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

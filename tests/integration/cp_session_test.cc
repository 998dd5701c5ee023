// The CP session end to end: tether's App (or a bare cp::Session) against tether-devcp over real
// mTLS websockets on loopback. Every wait is on an event (a CP event or a status change) with a
// generous deadline; nothing sleeps.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/gzip.h"
#include "rapidjson/document.h"
#include "sidecar/app/app.h"
#include "sidecar/common/asio.h"
#include "sidecar/config/decoder.h"
#include "sidecar/cp/basic_info.h"
#include "sidecar/cp/session.h"
#include "sidecar/pipeline/pipeline.h"
#include "tests/testing/app_fixture.h"
#include "tests/testing/testing.h"
#include "tools/devcp/control_plane.h"

namespace tether {
namespace {

using devcp::Event;
using devcp::EventKind;
using devcp::OfKind;
using ::testing::HasSubstr;

using testing::kWait;
using testing::PingWith;
constexpr absl::string_view kZeros = testing::kZeroHash;

std::string ExampleConfig() {
  return testing::ReadFile(testing::SourceFile("deploy/examples/kong-config.json"));
}

// A one-service config; each `n` below 10 gives a different hash.
std::string ConfigVariant(int n) {
  return absl::StrCat(R"({"_format_version":"3.0","_transform":false,"services":[)",
                      R"({"id":"00000000-0000-4000-8000-00000000000)", n % 10, R"(","name":"svc-)",
                      n, R"(","host":"example.com","port":80}]})");
}

class CpSessionTest : public testing::AppTest {};

// Shared mode: the handshake carries the node's identity, basic_info is the first frame, the
// pushed config becomes the current snapshot, and the next ping carries its hash.
TEST_F(CpSessionTest, SharedModeConnectsAndAppliesConfig) {
  StartCp();
  auto hash = cp_->SetConfig(ExampleConfig());
  ASSERT_TRUE(hash.ok()) << hash.status();
  StartApp();

  auto connected = cp_->WaitForEvent(OfKind(EventKind::kConnected), kWait);
  ASSERT_TRUE(connected);
  EXPECT_EQ(connected->node_id, settings_.node_id);
  EXPECT_EQ(connected->node_hostname, "dp-test.local");
  EXPECT_EQ(connected->node_version, "3.10.0");

  AwaitAppliedHash(*hash);
  ASSERT_TRUE(cp_->WaitForEvent(PingWith(*hash), kWait));
  for (const Event& e : cp_->Events()) {
    EXPECT_NE(e.kind, EventKind::kInvalidFrame) << e;
    if (e.kind == EventKind::kPing) {
      EXPECT_TRUE(e.payload == kZeros || e.payload == *hash) << e;
    }
  }
  // The CP's pong to a ping (empty, like Kong's) gives the round-trip time.
  const status::StatusView view = AwaitStatus([](const status::StatusView& v) {
    return v.connection.last_pong_at != absl::InfinitePast();
  });
  EXPECT_GT(view.connection.last_ping_rtt, absl::ZeroDuration());
  EXPECT_LT(view.connection.last_ping_rtt, kWait);
  EXPECT_EQ(view.connection.state, status::ConnectionState::kConnected);
  EXPECT_EQ(view.connection.attempts, 1u);
  EXPECT_EQ(view.config.applies, 1u);
  EXPECT_GT(view.config.current->EntityCount(), 10u);
}

// basic_info: binary JSON with the advertised plugins at the node version, filters {} and labels.
TEST_F(CpSessionTest, BasicInfoShape) {
  StartCp();
  StartApp({"--cluster-dp-labels=deployment:mycloud,region:us-east-1"});
  auto info = cp_->WaitForEvent(OfKind(EventKind::kBasicInfo), kWait);
  ASSERT_TRUE(info);
  rapidjson::Document doc;
  ASSERT_FALSE(doc.Parse(info->payload.c_str()).HasParseError()) << info->payload;
  EXPECT_STREQ(doc["type"].GetString(), "basic_info");
  ASSERT_TRUE(doc["plugins"].IsArray());
  bool key_auth = false;
  for (const auto& p : doc["plugins"].GetArray()) {
    if (std::string(p["name"].GetString()) == "key-auth") {
      key_auth = true;
      EXPECT_STREQ(p["version"].GetString(), "3.10.0");
    }
  }
  EXPECT_TRUE(key_auth);
  ASSERT_TRUE(doc["filters"].IsObject());
  EXPECT_EQ(doc["filters"].MemberCount(), 0u);
  EXPECT_STREQ(doc["labels"]["deployment"].GetString(), "mycloud");
  EXPECT_STREQ(doc["labels"]["region"].GetString(), "us-east-1");
  EXPECT_FALSE(cp_->WaitForEvent(OfKind(EventKind::kInvalidFrame), absl::ZeroDuration()));
}

// PKI mode: the client certificate chains to the CP's CA, and tether verifies the CP certificate
// against --cluster-ca-cert under --cluster-server-name.
TEST_F(CpSessionTest, PkiModeConnects) {
  StartCp(MtlsMode::kPki);
  auto hash = cp_->SetConfig(ExampleConfig());
  ASSERT_TRUE(hash.ok());
  StartApp({"--cluster-mtls=pki",
            "--cluster-cert=" + testing::Fixture("certs/kong_clustering_client.crt"),
            "--cluster-cert-key=" + testing::Fixture("certs/kong_clustering_client.key"),
            "--cluster-ca-cert=" + testing::Fixture("certs/kong_clustering.crt"),
            "--cluster-server-name=kong_clustering"});
  AwaitAppliedHash(*hash);
  EXPECT_TRUE(cp_->WaitForEvent(PingWith(*hash), kWait));
}

// A PKI CP refuses a client certificate its CA did not issue; tether reports a TLS failure and
// keeps retrying.
TEST_F(CpSessionTest, ClientCertificateNotFromCaIsRejected) {
  StartCp(MtlsMode::kPki);
  StartApp({"--cluster-mtls=pki",
            "--cluster-ca-cert=" + testing::Fixture("certs/kong_clustering.crt"),
            "--cluster-server-name=kong_clustering"});
  ASSERT_TRUE(cp_->WaitForEvent(OfKind(EventKind::kHandshakeRejected), kWait));
  const status::StatusView view = AwaitStatus([](const status::StatusView& v) {
    return v.connection.attempts >= 2 && !v.connection.last_error.ok();
  });
  // TLS 1.3 checks the client certificate after the client finished its handshake, so the CP's
  // alert arrives during the upgrade.
  EXPECT_THAT(std::string(view.connection.last_error.message()), HasSubstr("alert unknown ca"));
  EXPECT_FALSE(cp_->WaitForEvent(OfKind(EventKind::kConnected), absl::ZeroDuration()));
}

// Shared mode trusts exactly the cluster certificate: a CP presenting another one is refused by
// tether, which names the verification failure.
TEST_F(CpSessionTest, SharedModeRefusesOtherServerCertificate) {
  devcp::Options o;
  o.mtls = MtlsMode::kPki;
  o.cert_path = testing::Fixture("certs/kong_clustering_other_ca.crt");
  o.key_path = testing::Fixture("certs/kong_clustering_other_ca.key");
  o.ca_cert_path = testing::Fixture("certs/kong_clustering.crt");
  auto cp = devcp::ControlPlane::Create(o);
  ASSERT_TRUE(cp.ok()) << cp.status();
  cp_ = *std::move(cp);
  StartApp();
  const status::StatusView view =
      AwaitStatus([](const status::StatusView& v) { return !v.connection.last_error.ok(); });
  EXPECT_THAT(std::string(view.connection.last_error.message()),
              HasSubstr("certificate verify failed"));
}

// With no config, every ping carries 32 zeros, and pings come no faster than the interval: over
// four pings, three intervals pass (the bound allows for one delivery delayed by a loaded machine;
// timers never fire early).
TEST_F(CpSessionTest, PingsCarryZerosAtTheInterval) {
  StartCp();
  StartApp({"--ping-interval=300ms", "--ping-timeout=10s"});
  ASSERT_TRUE(cp_->WaitForEventCount(OfKind(EventKind::kPing, 1), 4, kWait));
  std::vector<absl::Time> times;
  for (const Event& e : cp_->Events()) {
    if (e.kind != EventKind::kPing) continue;
    EXPECT_EQ(e.payload, kZeros);
    times.push_back(e.time);
  }
  ASSERT_GE(times.size(), 4u);
  EXPECT_GE(times[3] - times[0], absl::Milliseconds(3 * 300 * 3 / 4));
}

// A CP that goes silent (reads nothing, answers nothing) is detected by the pong deadline; tether
// reconnects once the CP answers again.
TEST_F(CpSessionTest, PongTimeoutReconnects) {
  StartCp();
  StartApp({"--ping-interval=100ms", "--ping-timeout=500ms", "--connect-timeout=1s"});
  ASSERT_TRUE(cp_->WaitForEvent(OfKind(EventKind::kPing, 1), kWait));
  cp_->Freeze();
  const status::StatusView view = AwaitStatus([](const status::StatusView& v) {
    return absl::IsDeadlineExceeded(v.connection.last_error) &&
           absl::StrContains(v.connection.last_error.message(), "no pong");
  });
  EXPECT_NE(view.connection.state, status::ConnectionState::kConnected);
  cp_->Unfreeze();
  EXPECT_TRUE(cp_->WaitForEventCount(OfKind(EventKind::kConnected), 2, kWait));
  AwaitStatus([](const status::StatusView& v) {
    return v.connection.state == status::ConnectionState::kConnected;
  });
}

// The CP closing the connection is a disconnect like any other: tether waits a jittered backoff
// within the configured bounds, then reconnects.
TEST_F(CpSessionTest, ControlPlaneCloseReconnectsWithBackoff) {
  StartCp();
  StartApp({"--reconnect-backoff-min=200ms", "--reconnect-backoff-max=400ms"});
  ASSERT_TRUE(cp_->WaitForEvent(OfKind(EventKind::kPing, 1), kWait));
  cp_->CloseAll();
  const status::StatusView view = AwaitStatus([](const status::StatusView& v) {
    return v.connection.state == status::ConnectionState::kDisconnected;
  });
  EXPECT_THAT(std::string(view.connection.last_error.message()),
              HasSubstr("control plane closed the connection"));
  EXPECT_GE(view.connection.retry_in, absl::Milliseconds(200));
  EXPECT_LE(view.connection.retry_in, absl::Milliseconds(400));
  EXPECT_TRUE(cp_->WaitForEventCount(OfKind(EventKind::kConnected), 2, kWait));
}

// A frame with the applied hash is not decoded again, but it is answered with an immediate ping
// (the interval here is an hour, so only that rule can produce the second ping).
TEST_F(CpSessionTest, IdenticalHashIsSkippedButPinged) {
  StartCp();
  auto hash = cp_->SetConfig(ExampleConfig());
  ASSERT_TRUE(hash.ok());
  StartApp({"--ping-interval=1h", "--ping-timeout=2h"});
  AwaitAppliedHash(*hash);
  ASSERT_TRUE(cp_->WaitForEvent(PingWith(*hash), kWait));
  ASSERT_TRUE(cp_->SetConfig(ExampleConfig()).ok());
  EXPECT_TRUE(cp_->WaitForEventCount(PingWith(*hash), 2, kWait));
  const status::StatusView view =
      AwaitStatus([](const status::StatusView& v) { return v.config.same_hash == 1; });
  EXPECT_EQ(view.config.applies, 1u);
}

struct BadFrame {
  std::string name;
  std::function<void(devcp::ControlPlane&)> push;
  std::string reason;  // substring of the recorded rejection
};

// Each class of bad input is rejected on the same connection: the last good snapshot stays, the
// rejection is recorded with its reason and counted, and the session keeps pinging.
TEST_F(CpSessionTest, BadInputIsRejectedAndLastGoodConfigKept) {
  StartCp();
  auto hash = cp_->SetConfig(ExampleConfig());
  ASSERT_TRUE(hash.ok());
  StartApp({"--cluster-max-payload=4MiB", "--cluster-max-inflated=4MiB"});
  AwaitAppliedHash(*hash);

  std::string incompressible(5 << 20, '\0');
  uint64_t x = 88172645463325252ull;  // xorshift: random bytes gzip cannot shrink
  for (char& c : incompressible) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  const std::vector<BadFrame> cases = {
      {"not gzip", [](devcp::ControlPlane& cp) { cp.PushRawFrame("definitely not gzip"); },
       "inflate: corrupt"},
      {"truncated gzip",
       [](devcp::ControlPlane& cp) {
         std::string gz = protocol::Gzip(R"({"type":"reconfigure","config_table":{}})");
         cp.PushRawFrame(gz.substr(0, gz.size() / 2));
       },
       "inflate: truncated"},
      {"bad json", [](devcp::ControlPlane& cp) { cp.PushMessage("{not json"); }, "json"},
      {"missing config_table",
       [](devcp::ControlPlane& cp) { cp.PushMessage(R"({"type":"reconfigure"})"); },
       "missing config_table"},
      {"config_table not object",
       [](devcp::ControlPlane& cp) {
         cp.PushMessage(R"({"type":"reconfigure","config_table":[]})");
       },
       "config_table is not an object"},
      {"entity without id",
       [](devcp::ControlPlane& cp) {
         cp.PushMessage(R"({"type":"reconfigure","config_table":{"routes":[{"name":"r"}]}})");
       },
       "routes[0]"},
      {"bad config_hash",
       [](devcp::ControlPlane& cp) {
         cp.PushMessage(R"({"type":"reconfigure","config_hash":"xyz","config_table":{}})");
       },
       "config_hash"},
      {"inflates past the cap",
       [](devcp::ControlPlane& cp) {
         cp.PushMessage(absl::StrCat(R"({"type":"reconfigure","config_table":{"_comment":")",
                                     std::string(5 << 20, 'a'), R"("}})"));
       },
       "exceeds the 4194304-byte limit"},
      {"frame over max payload", [&](devcp::ControlPlane& cp) { cp.PushRawFrame(incompressible); },
       "--cluster-max-payload"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    cases[i].push(*cp_);
    const status::StatusView view =
        AwaitStatus([&](const status::StatusView& v) { return v.config.rejections == i + 1; });
    ASSERT_TRUE(view.config.last_rejection);
    EXPECT_THAT(view.config.last_rejection->reason, HasSubstr(cases[i].reason));
    EXPECT_EQ(view.config.current->config_hash, *hash);
    EXPECT_EQ(view.connection.attempts, 1u);
    EXPECT_EQ(view.connection.state, status::ConnectionState::kConnected);
  }
  // A message of another type is ignored, not rejected.
  cp_->PushMessage(R"({"type":"something_new"})");
  AwaitStatus([](const status::StatusView& v) { return v.config.ignored == 1; });
  // The connection still works: a good config still applies.
  auto next = cp_->SetConfig(ConfigVariant(1));
  ASSERT_TRUE(next.ok());
  AwaitAppliedHash(*next);
  EXPECT_TRUE(cp_->WaitForEvent(PingWith(*next), kWait));
  EXPECT_EQ(app_->status().Get().connection.attempts, 1u);
}

// The rejected frame's hash is recorded when it could be read.
TEST_F(CpSessionTest, RejectionRecordsHashWhenReadable) {
  StartCp();
  StartApp();
  ASSERT_TRUE(cp_->WaitForEvent(OfKind(EventKind::kPing, 1), kWait));
  const std::string bad_hash = "0123456789abcdef0123456789abcdef";
  cp_->PushMessage(absl::StrCat(R"({"type":"reconfigure","config_hash":")", bad_hash,
                                R"(","config_table":{"routes":[{"id":1}]}})"));
  const status::StatusView view =
      AwaitStatus([](const status::StatusView& v) { return v.config.rejections == 1; });
  EXPECT_EQ(view.config.last_rejection->config_hash, bad_hash);
  EXPECT_FALSE(view.config.current);
}

// Stop during a backoff wait returns at once instead of waiting out the delay (an hour here).
TEST_F(CpSessionTest, StopDuringBackoff) {
  testing::RefusingPort refusing;
  StartAppAt(refusing.port(), {"--reconnect-backoff-min=1h", "--reconnect-backoff-max=2h"});
  const status::StatusView view = AwaitStatus([](const status::StatusView& v) {
    return v.connection.state == status::ConnectionState::kDisconnected &&
           v.connection.attempts == 1;
  });
  EXPECT_THAT(std::string(view.connection.last_error.message()),
              HasSubstr("connect: Connection refused"));
  EXPECT_GE(view.connection.retry_in, absl::Hours(1));
  EXPECT_TRUE(app_->Stop(kWait));
  EXPECT_EQ(app_->status().Get().connection.state, status::ConnectionState::kStopped);
}

// Stop during a connect that hangs in the TLS handshake (a peer that never answers, with an
// hour-long connect timeout) abandons the attempt and returns.
TEST_F(CpSessionTest, StopDuringConnect) {
  testing::SilentListener silent;
  StartAppAt(silent.port(), {"--connect-timeout=1h"});
  AwaitStatus([](const status::StatusView& v) {
    return v.connection.state == status::ConnectionState::kConnecting;
  });
  EXPECT_TRUE(app_->Stop(kWait));
  EXPECT_EQ(app_->status().Get().connection.state, status::ConnectionState::kStopped);
}

// The connect deadline bounds a peer that accepts TCP but never completes TLS.
TEST_F(CpSessionTest, ConnectTimeoutBoundsSilentPeer) {
  testing::SilentListener silent;
  StartAppAt(silent.port(), {"--connect-timeout=300ms"});
  const status::StatusView view = AwaitStatus([](const status::StatusView& v) {
    return absl::IsDeadlineExceeded(v.connection.last_error);
  });
  EXPECT_THAT(std::string(view.connection.last_error.message()),
              HasSubstr("tls handshake: timed out"));
}

// Stop while connected sends a close frame: the CP sees the data plane close the connection.
TEST_F(CpSessionTest, StopClosesWithCloseFrame) {
  StartCp();
  StartApp();
  ASSERT_TRUE(cp_->WaitForEvent(OfKind(EventKind::kPing, 1), kWait));
  EXPECT_TRUE(app_->Stop(kWait));
  auto closed = cp_->WaitForEvent(OfKind(EventKind::kClosed, 1), kWait);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->closed_by, devcp::Closer::kDataPlane) << *closed;
  EXPECT_FALSE(cp_->WaitForEvent(OfKind(EventKind::kInvalidFrame), absl::ZeroDuration()));
}

// Latest wins, session and pipeline together: while the first frame is being decoded (held here),
// three more arrive; only the newest of them is decoded next, and its hash is pinged at once.
TEST(SessionLatestWinsTest, NewestFrameWinsWhileDecoding) {
  devcp::Options o;
  o.cert_path = testing::Fixture("certs/kong_clustering.crt");
  o.key_path = testing::Fixture("certs/kong_clustering.key");
  auto cp_or = devcp::ControlPlane::Create(o);
  ASSERT_TRUE(cp_or.ok()) << cp_or.status();
  auto& cp = *cp_or;
  auto first = cp->SetConfig(ConfigVariant(0));
  ASSERT_TRUE(first.ok()) << first.status();
  std::vector<std::string> hashes = {*first};

  net::io_context io;
  auto guard = net::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });

  absl::Notification first_started, release_first;
  absl::Mutex mu;
  std::vector<std::string> decoded;  // guarded by mu
  status::StatusBoard board;

  cp::SessionOptions so;
  so.host = "127.0.0.1";
  so.port = cp->port();
  so.tls.cert_path = testing::Fixture("certs/kong_clustering.crt");
  so.tls.key_path = testing::Fixture("certs/kong_clustering.key");
  so.node_id = "6f1d2a3b-0c4d-4e5f-8a9b-0c1d2e3f4a5b";
  so.node_hostname = "dp-test.local";
  so.node_version = "3.10.0";
  so.basic_info = [](absl::string_view) { return cp::BuildBasicInfo({}, {}); };
  so.ping_interval = absl::Hours(1);
  so.ping_timeout = absl::Hours(2);
  std::unique_ptr<cp::Session> session;
  pipeline::Pipeline pipeline(
      [&](pipeline::Frame frame) -> std::optional<std::string> {
        auto r = config::DecodeReconfigure(frame.bytes, "", {}, config::Source::kControlPlane,
                                           frame.received_at);
        if (!r.ok()) return std::nullopt;
        {
          absl::MutexLock lock(&mu);
          decoded.push_back(r->config_hash);
        }
        if (!first_started.HasBeenNotified()) {
          first_started.Notify();
          release_first.WaitForNotification();
        }
        return r->config_hash;
      },
      [&](std::string hash) { session->SetAppliedHash(std::move(hash)); }, nullptr);
  cp::SessionCallbacks cb;
  cb.on_change = [&](const status::ConnectionInfo& info) { board.SetConnection(info); };
  cb.on_frame = [&](std::string frame, absl::Time received_at) {
    pipeline.Submit(pipeline::Frame{std::move(frame), received_at});
  };
  auto created = cp::Session::Create(io, so, cb);
  ASSERT_TRUE(created.ok()) << created.status();
  session = *std::move(created);
  session->Start();

  first_started.WaitForNotification();
  for (int i = 1; i < 4; ++i) {
    auto h = cp->SetConfig(ConfigVariant(i));
    ASSERT_TRUE(h.ok());
    hashes.push_back(*h);
  }
  ASSERT_TRUE(
      board
          .WaitFor([](const status::StatusView& v) { return v.connection.frames_received == 4; },
                   kWait)
          .second);
  release_first.Notify();
  EXPECT_TRUE(cp->WaitForEvent(PingWith(hashes[3]), kWait));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(decoded, (std::vector<std::string>{hashes[0], hashes[3]}));
  }
  EXPECT_FALSE(cp->WaitForEvent(PingWith(hashes[1]), absl::ZeroDuration()));
  EXPECT_FALSE(cp->WaitForEvent(PingWith(hashes[2]), absl::ZeroDuration()));
  EXPECT_TRUE(session->Stop(kWait));
  pipeline.Stop();
  guard.reset();
  io.stop();
  io_thread.join();
  cp->Stop();
}

}  // namespace
}  // namespace tether

#include "sidecar/api/status_proto.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/sidecar/api/snapshots.h"

namespace tether::api {
namespace {

using ::testing::HasSubstr;

constexpr absl::Duration kPing = absl::Seconds(30);
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

status::ConnectionInfo Disconnected(status::FailureCause cause, absl::Status error) {
  status::ConnectionInfo c;
  c.state = status::ConnectionState::kDisconnected;
  c.address = "cp.example.com:8005";
  c.node_version = "3.10.0";
  c.attempts = 2;
  c.last_error = std::move(error);
  c.last_cause = cause;
  return c;
}

// Each situation gets its hint (a substring checked) or none, case by case: the hint follows the
// typed cause, whatever the message says.
TEST(ConnectionHintTest, NamesTheLikelyCause) {
  struct Case {
    std::string name;
    status::ConnectionInfo connection;
    std::string hint;  // empty: no hint
  };
  using status::FailureCause;
  status::ConnectionInfo short_lived =
      Disconnected(FailureCause::kEndedAfterBasicInfo,
                   absl::UnavailableError("control plane closed the connection"));
  short_lived.last_connection_duration = absl::Milliseconds(20);
  // Kong's refusal often arrives as a reset: the same cause, the same hint.
  status::ConnectionInfo reset_after_basic_info = Disconnected(
      FailureCause::kEndedAfterBasicInfo, absl::UnavailableError("read: Connection reset by peer"));
  status::ConnectionInfo long_lived = Disconnected(
      FailureCause::kClosedByCp, absl::UnavailableError("control plane closed the connection"));
  long_lived.last_connection_duration = absl::Minutes(10);
  status::ConnectionInfo short_with_config = long_lived;
  short_with_config.last_connection_duration = absl::Milliseconds(20);
  short_with_config.config_received = true;

  status::ConnectionInfo connected;
  connected.state = status::ConnectionState::kConnected;
  connected.connected_since = kNow - 3 * kPing;
  status::ConnectionInfo connected_briefly = connected;
  connected_briefly.connected_since = kNow - kPing;
  status::ConnectionInfo connected_with_config = connected;
  connected_with_config.config_received = true;
  status::ConnectionInfo stopped = short_lived;
  stopped.state = status::ConnectionState::kStopped;
  status::ConnectionInfo first_attempt;
  first_attempt.state = status::ConnectionState::kConnecting;

  const std::vector<Case> cases = {
      {"closed right after basic_info", short_lived, "may refuse this node's Kong version"},
      {"names the version and the flag", short_lived,
       "tether advertised 3.10.0; Kong accepts its own major and at most its own minor): set "
       "--node-version"},
      {"reset right after basic_info", reset_after_basic_info,
       "may refuse this node's Kong version"},
      {"closed after a long connection", long_lived, ""},
      {"closed soon but had config", short_with_config, ""},
      {"withholding", connected, "withholding config because a configured plugin is missing"},
      {"connected only briefly", connected_briefly, ""},
      {"connected with config", connected_with_config, ""},
      {"refused",
       Disconnected(FailureCause::kRefused, absl::UnavailableError("connect: Connection refused")),
       "nothing listens at cp.example.com:8005"},
      {"resolve",
       Disconnected(FailureCause::kDns, absl::UnavailableError("resolve: Host not found")),
       "cannot resolve cp.example.com:8005"},
      {"server cert",
       Disconnected(FailureCause::kServerUntrusted,
                    absl::UnavailableError(
                        "tls handshake: certificate verify failed: self-signed certificate")),
       "does not trust the control plane's certificate"},
      {"client cert",
       Disconnected(FailureCause::kClientCertRefused,
                    absl::UnavailableError("websocket upgrade: tlsv13 alert unknown ca")),
       "refused tether's client certificate"},
      {"timeout",
       Disconnected(FailureCause::kTimeout,
                    absl::DeadlineExceededError("tls handshake: timed out")),
       "does not complete a connection in time"},
      {"no pong",
       Disconnected(FailureCause::kNoPong,
                    absl::DeadlineExceededError("no pong or frame from control plane within 45s")),
       "stopped answering pings"},
      {"frame too slow",
       Disconnected(FailureCause::kFrameTooSlow,
                    absl::DeadlineExceededError("message from control plane not complete within "
                                                "5m1s of its first bytes")),
       "arrived too slowly"},
      {"upgrade refused",
       Disconnected(FailureCause::kUpgradeRefused,
                    absl::UnavailableError("websocket upgrade: end of stream")),
       "ended the websocket upgrade"},
      {"stopped", stopped, ""},
      {"first attempt", first_attempt, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string hint = ConnectionHint(c.connection, kPing, kNow);
    if (c.hint.empty()) {
      EXPECT_EQ(hint, "");
    } else {
      EXPECT_THAT(hint, HasSubstr(c.hint));
    }
  }
}

// Without a config: 32 zeros, no source, counters still reported.
TEST(StatusToProtoTest, NoConfigReportsZeros) {
  status::StatusView view;
  view.config.rejections = 2;
  view.config.last_rejection = status::Rejection{"abc", "bad json", kNow};
  const v1::Status s = ToProto(view, StatusContext{}, kNow);
  EXPECT_EQ(s.config().hash(), "00000000000000000000000000000000");
  EXPECT_EQ(s.config().source(), v1::SOURCE_UNSPECIFIED);
  EXPECT_EQ(s.config().rejection_count(), 2u);
  EXPECT_EQ(s.config().last_rejection().reason(), "bad json");
  EXPECT_EQ(s.config().last_rejection().at().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_FALSE(s.config().has_received_at());
}

// With a config, node and subscribers: every field is carried over.
TEST(StatusToProtoTest, CarriesConfigNodeAndSubscribers) {
  status::StatusView view;
  view.config.current = testing::Decode(
      absl::StrCat(R"({"_format_version":"3.0","routes":[)", testing::Row("r1", "a"), ",",
                   testing::Row("r2", "b"), R"(],"services":[)", testing::Row("s1", "a"), "]}"));
  ASSERT_TRUE(view.config.current);
  view.config.applied_at = kNow;
  view.config.applies = 1;
  view.node = {"node-1", "host-1", "3.10.0", {{"region", "eu"}}, "0.1.0"};
  status::SubscriberRecord sub;
  sub.client_id = "envoy";
  sub.peer = "unix:";
  sub.entity_types = {"routes"};
  sub.mode = status::SubscriberMode::kDelta;
  sub.last_sent_hash = view.config.current->config_hash;
  sub.acked_hash = "a";
  sub.nacked_hash = "b";
  sub.nack_error = "oops";
  sub.connected_since = kNow;
  sub.updates_sent = 3;
  view.subscribers.emplace(7, sub);
  view.connection.state = status::ConnectionState::kConnected;
  view.connection.connected_since = kNow - absl::Seconds(5);
  view.connection.last_ping_rtt = absl::Milliseconds(1500);

  StatusContext context;
  context.control_plane_url = "wss://cp:8005/v1/outlet?node_id=node-1";
  const v1::Status s = ToProto(view, context, kNow);
  EXPECT_EQ(s.config().hash(), view.config.current->config_hash);
  EXPECT_EQ(s.config().entity_counts().at("routes"), 2u);
  EXPECT_EQ(s.config().entity_counts().at("services"), 1u);
  EXPECT_EQ(s.config().hashes().at("routes"), view.config.current->hashes.at("routes"));
  EXPECT_EQ(s.config().source(), v1::SOURCE_CONTROL_PLANE);
  EXPECT_EQ(s.config().applied_at().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(s.config().apply_count(), 1u);
  EXPECT_EQ(s.node().labels().at("region"), "eu");
  EXPECT_EQ(s.node().tether_version(), "0.1.0");
  ASSERT_EQ(s.subscribers_size(), 1);
  EXPECT_EQ(s.subscribers(0).client_id(), "envoy");
  EXPECT_EQ(s.subscribers(0).mode(), v1::MODE_DELTA);
  EXPECT_EQ(s.subscribers(0).nack_error(), "oops");
  EXPECT_EQ(s.subscribers(0).updates_sent(), 3u);
  EXPECT_EQ(s.control_plane().state(), v1::CONNECTION_STATE_CONNECTED);
  EXPECT_EQ(s.control_plane().ping_rtt().seconds(), 1);
  EXPECT_EQ(s.control_plane().ping_rtt().nanos(), 500'000'000);
  EXPECT_EQ(s.control_plane().url(), context.control_plane_url);
  EXPECT_FALSE(s.control_plane().has_retry_in());
}

}  // namespace
}  // namespace tether::api

// The causes behind /metrics' reason labels, from the messages cp/ and config/ really produce,
// and the decode-duration buckets.
#include "sidecar/status/totals.h"

#include <set>

#include "gtest/gtest.h"

namespace tether::status {
namespace {

// Each end reason the CP session reports maps onto its cause.
TEST(TotalsTest, ClassifiesConnectionFailures) {
  struct Case {
    absl::Status error;
    ConnectFailure want;
  };
  const Case cases[] = {
      {absl::UnavailableError("resolve: Host not found (authoritative)"), ConnectFailure::kDns},
      {absl::UnavailableError("connect: Connection refused"), ConnectFailure::kRefused},
      {absl::UnavailableError("connect: Network is unreachable"), ConnectFailure::kOther},
      {absl::UnavailableError("connect: each of 2 addresses failed: 127.0.0.1:1: Connection "
                              "refused, [::1]:1: Connection refused"),
       ConnectFailure::kRefused},
      {absl::FailedPreconditionError("proxy connect: proxy 127.0.0.1:3128 answered 407 Proxy "
                                     "Authentication Required"),
       ConnectFailure::kProxy},
      {absl::UnavailableError("proxy tls handshake: certificate verify failed: self signed"),
       ConnectFailure::kProxy},
      {absl::UnavailableError("proxy connect: read the answer: end of stream"),
       ConnectFailure::kProxy},
      {absl::DeadlineExceededError("tls handshake: timed out after 5s"), ConnectFailure::kTimeout},
      {absl::DeadlineExceededError("no pong or frame from control plane within 45s"),
       ConnectFailure::kTimeout},
      {absl::UnavailableError("tls handshake: certificate verify failed: certificate has expired"),
       ConnectFailure::kTls},
      {absl::InvalidArgumentError("cannot load cluster certificate /c.crt: no start line"),
       ConnectFailure::kTls},
      {absl::FailedPreconditionError("websocket upgrade: control plane answered http 404"),
       ConnectFailure::kProtocol},
      {absl::UnavailableError("websocket upgrade: end of stream"), ConnectFailure::kProtocol},
      {absl::UnavailableError("control plane closed the connection"), ConnectFailure::kClosed},
      {absl::UnavailableError("control plane closed the connection with code 1001 going away"),
       ConnectFailure::kClosed},
      {absl::UnavailableError("read: Connection reset by peer"), ConnectFailure::kClosed},
      {absl::UnavailableError("ping: Broken pipe"), ConnectFailure::kClosed},
      {absl::UnavailableError("send basic_info: Broken pipe"), ConnectFailure::kClosed},
      {absl::InternalError("bad_function_call"), ConnectFailure::kOther},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.error.ToString());
    EXPECT_EQ(ConnectFailureName(ClassifyConnectFailure(c.error)), ConnectFailureName(c.want));
  }
}

// Each decode error and the session's refusal map onto their cause.
TEST(TotalsTest, ClassifiesRejections) {
  struct Case {
    absl::Status error;
    RejectReason want;
  };
  const Case cases[] = {
      {absl::ResourceExhaustedError(
           "config frame of 20000000 bytes exceeds --cluster-max-payload 16777216"),
       RejectReason::kTooLarge},
      {absl::ResourceExhaustedError("inflate: output exceeds the 1073741824-byte limit"),
       RejectReason::kTooLarge},
      {absl::InvalidArgumentError("inflate: corrupt compressed data: incorrect header check"),
       RejectReason::kGzip},
      {absl::InvalidArgumentError("inflate: truncated compressed data"), RejectReason::kGzip},
      {absl::InvalidArgumentError("invalid json at offset 3: missing a comma"),
       RejectReason::kJson},
      {absl::InvalidArgumentError("missing config_table"), RejectReason::kShape},
      {absl::InvalidArgumentError("config_hash: want 32 lowercase hex chars"),
       RejectReason::kShape},
      {absl::InternalError("inflate: init failed, code -2"), RejectReason::kOther},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.error.ToString());
    EXPECT_EQ(RejectReasonName(ClassifyRejection(c.error)), RejectReasonName(c.want));
  }
}

// Every cause has its own label value, and the counts match the arrays' sizes.
TEST(TotalsTest, NamesEveryCause) {
  std::set<absl::string_view> names;
  for (size_t i = 0; i < kConnectFailureCount; ++i) {
    names.insert(ConnectFailureName(static_cast<ConnectFailure>(i)));
  }
  EXPECT_EQ(names.size(), kConnectFailureCount);
  EXPECT_EQ(ConnectFailureName(static_cast<ConnectFailure>(kConnectFailureCount - 1)), "other");
  names.clear();
  for (size_t i = 0; i < kRejectReasonCount; ++i) {
    names.insert(RejectReasonName(static_cast<RejectReason>(i)));
  }
  EXPECT_EQ(names.size(), kRejectReasonCount);
  EXPECT_EQ(RejectReasonName(static_cast<RejectReason>(kRejectReasonCount - 1)), "other");
}

// A duration lands in the first bucket whose bound it does not exceed (bounds are inclusive, as
// Prometheus' `le`); beyond the last bound it lands in the overflow bucket.
TEST(TotalsTest, BucketsDecodeDurations) {
  DecodeDurations d;
  d.Observe(absl::ZeroDuration());
  d.Observe(absl::Milliseconds(1));
  d.Observe(absl::Microseconds(1001));
  d.Observe(absl::Minutes(5));
  EXPECT_EQ(d.counts[0], 2u);
  EXPECT_EQ(d.counts[1], 1u);
  EXPECT_EQ(d.counts.back(), 1u);
  EXPECT_EQ(d.count, 4u);
  EXPECT_EQ(d.sum, absl::Minutes(5) + absl::Microseconds(2001));
}

}  // namespace
}  // namespace tether::status

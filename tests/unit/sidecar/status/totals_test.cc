// The typed causes behind /metrics' reason labels, and the decode-duration buckets.
#include "sidecar/status/totals.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include "gtest/gtest.h"

namespace tether::status {
namespace {

// Every typed cause keeps the Prometheus label its failures had before causes were typed, so
// dashboards and alerts on tether_control_plane_connection_failures_total{reason} still hold.
TEST(TotalsTest, EachFailureCauseHasItsMetricReason) {
  const std::pair<FailureCause, absl::string_view> cases[] = {
      {FailureCause::kNone, "other"},
      {FailureCause::kDns, "dns"},
      {FailureCause::kRefused, "refused"},
      {FailureCause::kUnreachable, "other"},
      {FailureCause::kTimeout, "timeout"},
      {FailureCause::kCredentials, "tls"},
      {FailureCause::kServerUntrusted, "tls"},
      {FailureCause::kClientCertRefused, "tls"},
      {FailureCause::kTls, "tls"},
      {FailureCause::kProxy, "proxy"},
      {FailureCause::kUpgradeRefused, "protocol"},
      {FailureCause::kCpBusy, "protocol"},
      {FailureCause::kEndedAfterBasicInfo, "closed"},
      {FailureCause::kNoPong, "timeout"},
      {FailureCause::kFrameTooSlow, "timeout"},
      {FailureCause::kClosedByCp, "closed"},
      {FailureCause::kConnectionLost, "closed"},
      {FailureCause::kRotation, "other"},
      {FailureCause::kVersionProbe, "other"},
      {FailureCause::kInternal, "other"},
  };
  ASSERT_EQ(std::size(cases), kFailureCauseCount) << "a new cause needs its label here";
  for (const auto& [cause, reason] : cases) {
    SCOPED_TRACE(FailureCauseName(cause));
    EXPECT_EQ(FailureMetricReason(cause), reason);
    EXPECT_NE(std::find(kFailureMetricReasons.begin(), kFailureMetricReasons.end(), reason),
              kFailureMetricReasons.end());
  }
}

TEST(TotalsTest, SumsFailuresByMetricReason) {
  Totals totals;
  totals.connection_failures[static_cast<size_t>(FailureCause::kClosedByCp)] = 2;
  totals.connection_failures[static_cast<size_t>(FailureCause::kEndedAfterBasicInfo)] = 3;
  totals.connection_failures[static_cast<size_t>(FailureCause::kNoPong)] = 5;
  EXPECT_EQ(ConnectionFailuresWithReason(totals, "closed"), 5u);
  EXPECT_EQ(ConnectionFailuresWithReason(totals, "timeout"), 5u);
  EXPECT_EQ(ConnectionFailuresWithReason(totals, "dns"), 0u);
}

// Every cause has its own name, in status and in logs.
TEST(TotalsTest, NamesEveryCause) {
  std::set<absl::string_view> names;
  for (size_t i = 0; i < kFailureCauseCount; ++i) {
    names.insert(FailureCauseName(static_cast<FailureCause>(i)));
  }
  EXPECT_EQ(names.size(), kFailureCauseCount);
  EXPECT_FALSE(names.contains("unknown"));
  names.clear();
  for (size_t i = 0; i < config::kRejectCauseCount; ++i) {
    names.insert(config::RejectCauseName(static_cast<config::RejectCause>(i)));
  }
  EXPECT_EQ(names.size(), config::kRejectCauseCount);
  EXPECT_EQ(config::RejectCauseName(config::RejectCause::kOther), "other");
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

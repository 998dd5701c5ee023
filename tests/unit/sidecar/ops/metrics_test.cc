// RenderMetrics: every tether_* metric from a StatusView, parsed back from the text format.
#include "sidecar/ops/metrics.h"

#include <map>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/prometheus_text.h"

namespace tether::ops {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// `# TYPE name kind` lines: name -> kind.
std::map<std::string, std::string> Types(const std::string& text) {
  std::map<std::string, std::string> types;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (!absl::ConsumePrefix(&line, "# TYPE ")) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    types[parts[0]] = parts[1];
  }
  return types;
}

config::SnapshotPtr MakeSnapshot(absl::Time received_at) {
  auto s = std::make_shared<config::Snapshot>();
  s->config_hash = std::string(32, 'a');
  auto services = std::make_shared<config::EntityCollection>();
  services->items.resize(1);
  auto routes = std::make_shared<config::EntityCollection>();
  routes->items.resize(3);
  s->types["services"] = services;
  s->types["routes"] = routes;
  s->received_at = received_at;
  s->compressed_bytes = 1234;
  s->decoded_bytes = 56789;
  s->decode_duration = absl::Milliseconds(7);
  return s;
}

std::string Render(const status::StatusView& view, absl::Time now = absl::Now()) {
  absl::StatusOr<std::string> text = RenderMetrics(view, now);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : "";
}

// A connected tether with a config, subscribers and history: each metric carries its view field.
TEST(MetricsTest, RendersEveryMetricFromTheView) {
  const absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  status::StatusView view;
  view.connection.state = status::ConnectionState::kConnected;
  view.connection.attempts = 4;
  view.connection.last_pong_at = now - absl::Seconds(1);
  view.connection.last_ping_rtt = absl::Milliseconds(250);
  view.totals.connection_failures[static_cast<size_t>(status::FailureCause::kRefused)] = 2;
  view.totals.connection_failures[static_cast<size_t>(status::FailureCause::kClosedByCp)] = 1;
  view.config.current = MakeSnapshot(now - absl::Seconds(90));
  view.config.applies = 5;
  view.totals.rejections[static_cast<size_t>(config::RejectCause::kGzip)] = 3;
  view.totals.decode_durations.Observe(absl::Milliseconds(3));
  view.totals.decode_durations.Observe(absl::Milliseconds(7));
  view.totals.decode_durations.Observe(absl::Seconds(90));
  view.subscribers[1];
  view.subscribers[2];
  view.totals.updates_sent = 9;
  view.connection.cert_not_after = absl::FromUnixSeconds(1'800'000'000);
  view.connection.cert_key_readable_by_others = true;

  const std::map<std::string, double> m = testing::ParsePrometheusText(Render(view, now));
  EXPECT_EQ(m.at("tether_ready"), 1);
  EXPECT_EQ(m.at("tether_control_plane_connected"), 1);
  EXPECT_EQ(m.at("tether_control_plane_connection_attempts_total"), 4);
  EXPECT_EQ(m.at(R"(tether_control_plane_connection_failures_total{reason="refused"})"), 2);
  EXPECT_EQ(m.at(R"(tether_control_plane_connection_failures_total{reason="closed"})"), 1);
  EXPECT_EQ(m.at("tether_control_plane_ping_rtt_seconds"), 0.25);
  EXPECT_EQ(m.at("tether_config_applies_total"), 5);
  EXPECT_EQ(m.at(R"(tether_config_rejections_total{reason="gzip"})"), 3);
  EXPECT_EQ(m.at("tether_config_compressed_bytes"), 1234);
  EXPECT_EQ(m.at("tether_config_decoded_bytes"), 56789);
  EXPECT_EQ(m.at("tether_config_age_seconds"), 90);
  EXPECT_EQ(m.at(R"(tether_config_entities{type="services"})"), 1);
  EXPECT_EQ(m.at(R"(tether_config_entities{type="routes"})"), 3);
  EXPECT_EQ(m.at("tether_subscribers"), 2);
  EXPECT_EQ(m.at("tether_updates_sent_total"), 9);
  EXPECT_EQ(m.at("tether_cluster_cert_expiry_timestamp_seconds"), 1'800'000'000);
  EXPECT_EQ(m.at("tether_cluster_cert_key_readable_by_others"), 1);
  // Buckets are cumulative: 3 ms and 7 ms fall under 10 ms, 90 s only under +Inf.
  EXPECT_EQ(m.at(R"(tether_config_decode_duration_seconds_bucket{le="0.001"})"), 0);
  EXPECT_EQ(m.at(R"(tether_config_decode_duration_seconds_bucket{le="0.005"})"), 1);
  EXPECT_EQ(m.at(R"(tether_config_decode_duration_seconds_bucket{le="0.01"})"), 2);
  EXPECT_EQ(m.at(R"(tether_config_decode_duration_seconds_bucket{le="60"})"), 2);
  EXPECT_EQ(m.at(R"(tether_config_decode_duration_seconds_bucket{le="+Inf"})"), 3);
  EXPECT_EQ(m.at("tether_config_decode_duration_seconds_count"), 3);
  EXPECT_DOUBLE_EQ(m.at("tether_config_decode_duration_seconds_sum"), 90.010);
}

// Every cause of the fixed label sets is listed from the start, at 0, so rate() and alerts on
// a cause work before it first happens.
TEST(MetricsTest, ListsEveryCauseAtZero) {
  const std::map<std::string, double> m =
      testing::ParsePrometheusText(Render(status::StatusView()));
  for (absl::string_view reason :
       {"dns", "refused", "timeout", "tls", "protocol", "proxy", "closed", "other"}) {
    EXPECT_EQ(m.at(absl::StrCat(R"(tether_control_plane_connection_failures_total{reason=")",
                                reason, R"("})")),
              0)
        << reason;
  }
  for (absl::string_view reason : {"too_large", "gzip", "json", "shape", "empty_config", "other"}) {
    EXPECT_EQ(m.at(absl::StrCat(R"(tether_config_rejections_total{reason=")", reason, R"("})")), 0)
        << reason;
  }
}

// Types Kong does not declare get one "other" series, so a CP sending thousands of types cannot
// make thousands of series.
TEST(MetricsTest, CountsUnknownEntityTypesAsOther) {
  auto s = std::make_shared<config::Snapshot>();
  for (int i = 0; i < 2000; ++i) {
    auto collection = std::make_shared<config::EntityCollection>();
    collection->items.resize(2);
    s->types[absl::StrCat("junk", i)] = collection;
  }
  auto routes = std::make_shared<config::EntityCollection>();
  routes->items.resize(3);
  s->types["routes"] = routes;
  status::StatusView view;
  view.config.current = s;
  const std::string text = Render(view);
  const std::map<std::string, double> m = testing::ParsePrometheusText(text);
  EXPECT_EQ(m.at(R"(tether_config_entities{type="routes"})"), 3);
  EXPECT_EQ(m.at(R"(tether_config_entities{type="other"})"), 4000);
  EXPECT_THAT(text, Not(HasSubstr("junk")));
}

// Before the first config, pong and certificate read, the metrics that would need them are left
// out rather than shown as 0 (a 0 expiry reads as long expired, a 0 RTT as instant).
TEST(MetricsTest, LeavesOutWhatIsNotKnownYet) {
  const std::string text = Render(status::StatusView());
  EXPECT_THAT(text, Not(HasSubstr("tether_config_age_seconds")));
  EXPECT_THAT(text, Not(HasSubstr("tether_config_entities")));
  EXPECT_THAT(text, Not(HasSubstr("tether_config_compressed_bytes")));
  EXPECT_THAT(text, Not(HasSubstr("tether_control_plane_ping_rtt_seconds")));
  EXPECT_THAT(text, Not(HasSubstr("tether_cluster_cert_expiry_timestamp_seconds")));
  const std::map<std::string, double> m = testing::ParsePrometheusText(text);
  EXPECT_EQ(m.at("tether_ready"), 0);
  EXPECT_EQ(m.at("tether_control_plane_connected"), 0);
}

// The whole set, and Prometheus conventions: a tether_ prefix on every family, _total on
// counters and on nothing else, units in the name.
TEST(MetricsTest, FollowsPrometheusNaming) {
  status::StatusView view;
  view.config.current = MakeSnapshot(absl::Now());
  view.connection.last_pong_at = absl::Now();
  view.connection.cert_not_after = absl::Now();
  const std::map<std::string, std::string> types = Types(Render(view));
  std::vector<std::string> names;
  for (const auto& [name, kind] : types) names.push_back(name);
  EXPECT_THAT(
      names,
      ::testing::ElementsAre(
          "tether_cluster_cert_expiry_timestamp_seconds",
          "tether_cluster_cert_key_readable_by_others",
          "tether_cluster_cert_rotations_refused_total", "tether_cluster_cert_rotations_total",
          "tether_config_age_seconds", "tether_config_applies_total",
          "tether_config_cache_write_failures_total", "tether_config_compressed_bytes",
          "tether_config_decode_duration_seconds", "tether_config_decoded_bytes",
          "tether_config_entities", "tether_config_file_writes_total",
          "tether_config_rejections_total", "tether_control_plane_connected",
          "tether_control_plane_connection_attempts_total",
          "tether_control_plane_connection_failures_total", "tether_control_plane_ping_rtt_seconds",
          "tether_control_plane_retry_after_waits_total", "tether_grpc_peers_refused_total",
          "tether_on_change_exec_runs_total", "tether_ready", "tether_subscriber_nacks_total",
          "tether_subscribers", "tether_subscribers_refused_total",
          "tether_update_cache_evictions_total", "tether_updates_sent_total"));
  for (const auto& [name, kind] : types) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(absl::StartsWith(name, "tether_"));
    EXPECT_EQ(absl::EndsWith(name, "_total"), kind == "counter");
  }
  EXPECT_EQ(types.at("tether_config_decode_duration_seconds"), "histogram");
}

// Draining is not ready, whatever the config: tether_ready follows ReadinessOf like /readyz.
TEST(MetricsTest, ReadyFollowsReadiness) {
  status::StatusView view;
  view.config.current = MakeSnapshot(absl::Now());
  EXPECT_EQ(testing::ParsePrometheusText(Render(view)).at("tether_ready"), 1);
  view.draining = true;
  EXPECT_EQ(testing::ParsePrometheusText(Render(view)).at("tether_ready"), 0);
}

}  // namespace
}  // namespace tether::ops

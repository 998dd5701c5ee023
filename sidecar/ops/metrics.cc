#include "sidecar/ops/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <exception>
#include <vector>

#include "absl/strings/str_cat.h"
#include "protocol/entity_types.h"

namespace tether::ops {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// A counter without labels.
void Counter(prometheus::Registry& registry, const std::string& name, const std::string& help,
             uint64_t value) {
  BuildCounter().Name(name).Help(help).Register(registry).Add({}).Increment(
      static_cast<double>(value));
}

void Render(const status::StatusView& view, absl::Time now, prometheus::Registry& registry) {
  const status::ConnectionInfo& connection = view.connection;
  const status::ConfigRecord& config = view.config;
  const status::Totals& totals = view.totals;

  BuildGauge()
      .Name("tether_ready")
      .Help("1 while tether serves a config and is not draining, as /readyz answers")
      .Register(registry)
      .Add({})
      .Set(status::ReadinessOf(view).ready ? 1 : 0);

  BuildGauge()
      .Name("tether_control_plane_connected")
      .Help("1 while the websocket session with the control plane is up")
      .Register(registry)
      .Add({})
      .Set(connection.state == status::ConnectionState::kConnected ? 1 : 0);
  Counter(registry, "tether_control_plane_connection_attempts_total",
          "Connection attempts to the control plane", connection.attempts);
  Counter(registry, "tether_control_plane_retry_after_waits_total",
          "Reconnect waits lengthened to honour a busy control plane's Retry-After (429, 503)",
          connection.retry_after_waits);
  // Every cause is listed, at 0 until it happens, so that rate() works from the first scrape.
  auto& failures = BuildCounter()
                       .Name("tether_control_plane_connection_failures_total")
                       .Help("Connection attempts that failed and connections that ended, by cause")
                       .Register(registry);
  for (absl::string_view reason : status::kFailureMetricReasons) {
    failures.Add({{"reason", std::string(reason)}})
        .Increment(static_cast<double>(status::ConnectionFailuresWithReason(totals, reason)));
  }
  // Left out until a pong has been timed: 0 would read as an instant answer.
  if (connection.last_pong_at != absl::InfinitePast()) {
    BuildGauge()
        .Name("tether_control_plane_ping_rtt_seconds")
        .Help("Round-trip time of the last ping the control plane answered")
        .Register(registry)
        .Add({})
        .Set(Seconds(connection.last_ping_rtt));
  }

  Counter(registry, "tether_config_applies_total", "Configs that replaced the current one",
          config.applies);
  auto& rejections = BuildCounter()
                         .Name("tether_config_rejections_total")
                         .Help("Config frames refused (the current config stays), by cause")
                         .Register(registry);
  for (size_t i = 0; i < config::kRejectCauseCount; ++i) {
    rejections
        .Add(
            {{"reason", std::string(config::RejectCauseName(static_cast<config::RejectCause>(i)))}})
        .Increment(static_cast<double>(totals.rejections[i]));
  }
  Counter(registry, "tether_config_cache_write_failures_total",
          "Applied configs that could not be saved as the last-known-good cache on disk",
          totals.cache_write_failures);
  auto& writes = BuildCounter()
                     .Name("tether_config_file_writes_total")
                     .Help("--write-config files written, by outcome")
                     .Register(registry);
  writes.Add({{"outcome", "ok"}}).Increment(static_cast<double>(totals.config_file_writes));
  writes.Add({{"outcome", "failed"}})
      .Increment(static_cast<double>(totals.config_file_write_failures));
  auto& runs = BuildCounter()
                   .Name("tether_on_change_exec_runs_total")
                   .Help("--on-change-exec runs, by outcome (ok: exit 0; failed; timeout)")
                   .Register(registry);
  for (size_t i = 0; i < status::kHookOutcomeCount; ++i) {
    runs.Add({{"outcome",
               std::string(status::HookOutcomeName(static_cast<status::HookOutcome>(i)))}})
        .Increment(static_cast<double>(totals.hook_runs[i]));
  }
  prometheus::Histogram::BucketBoundaries bounds;
  for (absl::Duration b : status::kDecodeDurationBounds) bounds.push_back(Seconds(b));
  const status::DecodeDurations& decode = totals.decode_durations;
  BuildHistogram()
      .Name("tether_config_decode_duration_seconds")
      .Help("Time to inflate, parse and index each applied config")
      .Register(registry)
      .Add({}, bounds)
      .ObserveMultiple(std::vector<double>(decode.counts.begin(), decode.counts.end()),
                       Seconds(decode.sum));

  if (config.current != nullptr) {
    const config::Snapshot& s = *config.current;
    BuildGauge()
        .Name("tether_config_compressed_bytes")
        .Help("Size of the current config as the control plane sent it (gzip)")
        .Register(registry)
        .Add({})
        .Set(static_cast<double>(s.compressed_bytes));
    BuildGauge()
        .Name("tether_config_decoded_bytes")
        .Help("Size of the current config after inflation")
        .Register(registry)
        .Add({})
        .Set(static_cast<double>(s.decoded_bytes));
    BuildGauge()
        .Name("tether_config_age_seconds")
        .Help("Time since the current config was received")
        .Register(registry)
        .Add({})
        .Set(Seconds(now - s.received_at));
    auto& entities = BuildGauge()
                         .Name("tether_config_entities")
                         .Help("Entities in the current config, by type")
                         .Register(registry);
    // Kong's own types by name, every other one (Enterprise, custom plugins, a hostile CP's
    // thousands) under "other", so the series stay bounded whatever the CP sends.
    double other = 0;
    for (const auto& [type, collection] : s.types) {
      const auto count = static_cast<double>(collection->items.size());
      if (protocol::IsKongEntityType(type)) {
        entities.Add({{"type", type}}).Set(count);
      } else {
        other += count;
      }
    }
    if (other > 0) entities.Add({{"type", "other"}}).Set(other);
  }

  BuildGauge()
      .Name("tether_subscribers")
      .Help("Proxies subscribed to config updates")
      .Register(registry)
      .Add({})
      .Set(static_cast<double>(view.subscribers.size()));
  Counter(registry, "tether_updates_sent_total", "Config updates fully written to subscribers",
          totals.updates_sent);
  Counter(registry, "tether_subscriber_nacks_total",
          "Updates that subscribers refused (NACK): their proxies did not apply the config",
          totals.nacks);
  Counter(registry, "tether_subscribers_refused_total",
          "Watch streams refused with RESOURCE_EXHAUSTED beyond --grpc-max-subscribers",
          totals.subscribers_refused);
  Counter(registry, "tether_update_cache_evictions_total",
          "Built updates dropped from the gRPC API's update cache to stay within "
          "--grpc-update-cache-bytes (rebuilt if needed again)",
          totals.update_cache_evictions);
  auto& peers_refused = BuildCounter()
                            .Name("tether_grpc_peers_refused_total")
                            .Help(
                                "Connections to the gRPC unix sockets closed unserved: the "
                                "peer's uid and gid are not allowed, or its credentials unknown")
                            .Register(registry);
  for (size_t i = 0; i < status::kPeerRefusalCount; ++i) {
    peers_refused.Add({{"reason", std::string(status::kPeerRefusalNames[i])}})
        .Increment(static_cast<double>(totals.grpc_peers_refused[i]));
  }
  Counter(registry, "tether_cluster_cert_rotations_total",
          "Cluster certificate rotations picked up from disk", connection.cert_rotations);
  Counter(registry, "tether_cluster_cert_rotations_refused_total",
          "Changed cluster certificate files refused (unusable or expired); the previous "
          "certificate stays in use",
          connection.cert_rotations_refused);
  BuildGauge()
      .Name("tether_cluster_cert_key_readable_by_others")
      .Help("1 while the cluster certificate key file in use is readable by its group or others")
      .Register(registry)
      .Add({})
      .Set(connection.cert_key_readable_by_others ? 1 : 0);

  // Left out until the certificate is read: 0 would read as long expired.
  if (connection.cert_not_after != absl::InfinitePast()) {
    BuildGauge()
        .Name("tether_cluster_cert_expiry_timestamp_seconds")
        .Help("When the cluster certificate in use expires (notAfter), in seconds since the epoch")
        .Register(registry)
        .Add({})
        .Set(static_cast<double>(absl::ToUnixSeconds(connection.cert_not_after)));
  }
}

}  // namespace

absl::StatusOr<std::string> RenderMetrics(const status::StatusView& view, absl::Time now) {
  // prometheus-cpp reports bad names and labels, and allocation failures, by throwing.
  try {
    prometheus::Registry registry;
    Render(view, now, registry);
    return prometheus::TextSerializer().Serialize(registry.Collect());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("rendering metrics: ", e.what()));
  }
}

}  // namespace tether::ops

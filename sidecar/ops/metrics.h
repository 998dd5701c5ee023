// Metrics: tether's Prometheus exposition, rendered from one StatusView.
//
// Why a projection rather than live instruments: every number /metrics shows is already on the
// StatusBoard (its state, and the totals it keeps by cause, status/totals.h), so a scrape copies
// one view and renders it. Metrics then agree with GetStatus and the logs by construction, and a
// scrape is consistent in itself (applies and entity counts come from the same instant). Each
// scrape fills a fresh prometheus-cpp Registry, as exporters fill client_golang's const metrics;
// prometheus-cpp still checks names and labels and writes the text format.
//
// Threading: thread-safe (no shared state).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sidecar/status/status_board.h"

namespace tether::ops {

// The Prometheus text exposition format, version 0.0.4.
inline constexpr absl::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Every tether_* metric for `view` at `now` (for ages). Internal when prometheus-cpp throws.
absl::StatusOr<std::string> RenderMetrics(const status::StatusView& view, absl::Time now);

}  // namespace tether::ops

// Deterministic Kong configs of any size, in the flat form a control plane pushes
// (kong-protocol.md §7: flat rows, foreign keys as bare ids, every schema field present with null
// for unset), for the microbenchmarks, the load tool (bench/) and tests.
//
// Why generated: the figures in BENCHMARKS.md must be reproducible by anyone from one command,
// at sizes real users run (up to 10k services, 10k routes and 50k consumers with credentials),
// and no such config can be committed. Rows follow deploy/examples/kong-config.json and the
// schemas Kong 3.x exports (plugins with their full config, upstreams with healthchecks, targets
// with millisecond timestamps), so parse, hash and serialisation costs are those of real rows.
//
// Revisions model "one change pushed": revision r+1 differs from revision r in exactly one route
// (its updated_at and its path), cycling through the routes. Same shape and revision, same bytes.
//
// Threading: pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tether::bench {

// Rows per collection. Every config also has one workspace and one `parameters` row (cluster_id),
// as the CP always exports them; snis come one per certificate.
struct ConfigShape {
  size_t certificates = 0;
  size_t services = 0;
  size_t routes = 0;  // spread over the services; needs services > 0
  size_t consumers = 0;
  size_t keyauth_credentials = 0;  // spread over the consumers; needs consumers > 0
  size_t upstreams = 0;
  size_t targets = 0;  // spread over the upstreams; needs upstreams > 0
  // A global prometheus plugin, then key-auth, cors and ip-restriction on services and
  // rate-limiting and request-transformer on routes, in turn (needs services and routes > 0).
  size_t plugins = 0;

  size_t EntityCount() const;
};

enum class Preset { kSmall, kMedium, kLarge };
inline constexpr Preset kPresets[] = {Preset::kSmall, Preset::kMedium, Preset::kLarge};

// small: ~100 entities; medium: ~10k; large: ~127k (10k services, 10k routes, 50k consumers each
// with a key-auth credential, 3k plugins, 1k upstreams with 3k targets, 100 certificates).
ConfigShape PresetShape(Preset preset);
absl::string_view PresetName(Preset preset);
std::optional<Preset> ParsePreset(absl::string_view name);

// The config_table object as compact JSON. `revision` > 0 needs shape.routes > 0.
std::string GenerateConfigTable(const ConfigShape& shape, uint64_t revision = 0);

// A reconfigure frame exactly as tether-devcp (and so the CP) sends `config_table_json`: the
// message with config_hash, hashes and a fixed timestamp, gzipped. InvalidArgument when the text
// is not a JSON object.
absl::StatusOr<std::string> MakeReconfigureFrame(absl::string_view config_table_json);

}  // namespace tether::bench

// The nested objects of generated rows: upstream healthchecks and the config of each plugin
// the generator attaches, with every field Kong 3.x exports (config_generator.h says why).
//
// Threading: pure functions of their arguments, thread-safe.
#pragma once

#include <cstddef>

#include "absl/strings/string_view.h"
#include "bench/json_row.h"

namespace tether::bench {

// An upstream's `healthchecks` members (active, passive, threshold), as Kong's defaults.
void HealthChecks(Row& row);

// The plugins the generator attaches, in turn; all are bundled with Kong, so tether (which
// reports Kong's bundled plugins) is never refused a config for lack of one (§3.4).
enum class PluginKind { kKeyAuth, kRateLimiting, kCors, kRequestTransformer, kIpRestriction };
inline constexpr PluginKind kPluginCycle[] = {PluginKind::kKeyAuth, PluginKind::kRateLimiting,
                                              PluginKind::kCors, PluginKind::kRequestTransformer,
                                              PluginKind::kIpRestriction};

// The `config` members of the `i`th plugin row, of kind `kind`.
void PluginConfig(PluginKind kind, size_t i, Row& c);
absl::string_view PluginName(PluginKind kind);
// Whether the kind is attached to routes (else to services).
bool OnRoute(PluginKind kind);

}  // namespace tether::bench

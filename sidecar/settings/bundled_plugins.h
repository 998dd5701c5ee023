// The plugins bundled with Kong, which tether advertises in basic_info by default.
//
// A Kong DP lists every plugin it has loaded, each at the Kong version (kong-protocol.md §2). The
// CP withholds config that uses a plugin missing from that list and ignores names it does not
// know, so by default tether advertises what a stock Kong Enterprise of the same major.minor
// would: the open-source plugins plus the Enterprise ones.
//
// Threading: thread-safe (immutable data).
#pragma once

#include <vector>

#include "absl/strings/string_view.h"
#include "sidecar/settings/settings.h"

namespace tether::settings {

// The plugins bundled with Kong (open source and Enterprise) at node_version's major.minor, each
// at version node_version, sorted by lowercase name. For 3.x, plugins added after that minor (or
// dropped before it) are left out; any other major, or a minor newer than we know, gets the
// newest list (3.10). node_version must satisfy
// IsValidKongVersion (validate.h); otherwise the newest list is returned.
std::vector<Plugin> BundledPlugins(absl::string_view node_version);

// The plugins to advertise at `node_version`: the bundled ones (when selected) and the listed
// ones, a listed entry winning over a bundled one of the same name, a listed entry without a
// version at `node_version`. Sorted by lowercase name.
std::vector<Plugin> ResolvePlugins(const PluginSelection& selection,
                                   absl::string_view node_version);

// "3.<newest minor tether knows>.0": what --node-version=auto resolves plugins at before a CP
// answered.
std::string NewestKnownKongVersion();

}  // namespace tether::settings

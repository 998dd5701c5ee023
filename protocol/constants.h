// Constants of Kong's hybrid-mode v1 protocol, shared by the sidecar and tether-devcp.
// Each names the Kong source (https://github.com/Kong/kong, 3.10) it comes from; the § numbers are
// the sections of the team's protocol notes (kong-protocol.md) that describe it.
#pragma once

#include <algorithm>
#include <iterator>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tether::protocol {

// §1.1: the v1 websocket endpoint on the cluster listener (kong/templates/nginx_kong.lua).
inline constexpr absl::string_view kOutletPath = "/v1/outlet";
// §1.2: shared mode hard-codes SNI and the verified host name (kong/clustering/utils.lua).
inline constexpr absl::string_view kSharedServerName = "kong_clustering";
// §3.5: DECLARATIVE_EMPTY_CONFIG_HASH (kong/constants.lua), the ping payload before any config is
// applied.
inline constexpr absl::string_view kEmptyConfigHash = "00000000000000000000000000000000";
inline constexpr size_t kConfigHashLength = 32;
// §4.1: CLUSTERING_PING_INTERVAL (kong/constants.lua) and PING_WAIT = 1.5 x interval
// (kong/clustering/data_plane.lua).
inline constexpr absl::Duration kPingInterval = absl::Seconds(30);
inline constexpr absl::Duration kPingWait = absl::Seconds(45);
// §1.3: CLUSTERING_TIMEOUT (kong/constants.lua) for connect, send and each read.
inline constexpr absl::Duration kClusteringTimeout = absl::Milliseconds(5000);
// §1.3: cluster_max_payload default since 3.4 (kong/templates/kong_defaults.lua), and the minimum
// the config loader allows (kong/conf_loader/parse.lua).
inline constexpr size_t kDefaultMaxPayloadBytes = 16777216;
inline constexpr size_t kMinMaxPayloadBytes = 4194304;
// §3.2 / §7.3: the sections Kong hashes separately, in the order config_hash concatenates them
// (calculate_config_hash in kong/clustering/config_helper.lua).
inline constexpr absl::string_view kHashedSections[] = {"routes", "services", "plugins",
                                                        "upstreams", "targets"};
inline bool IsHashedSection(absl::string_view type) {
  return std::find(std::begin(kHashedSections), std::end(kHashedSections), type) !=
         std::end(kHashedSections);
}

// §2: Kong versions. The CP refuses another major, or a newer minor than its own. 3.9 is the newest
// open-source line; 3.10 to 3.15 are Kong Enterprise releases, the newest tether knows.
inline constexpr int kKongMajor = 3;
inline constexpr int kNewestKnownKongMinor = 15;

}  // namespace tether::protocol

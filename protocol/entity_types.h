// The entity types an open-source Kong 3.x declares: what a config_table from a Kong CP holds,
// apart from Enterprise and custom plugins' entities.
//
// Why: anything keyed by type name that grows with what the CP sends (metric labels) is bounded
// by this list, with every other type counted under one "other" label.
//
// Threading: immutable data.
#pragma once

#include <algorithm>
#include <iterator>

#include "absl/strings/string_view.h"

namespace tether::protocol {

// CORE_ENTITIES in kong/constants.lua (3.10), then the entities of the bundled plugins' daos.lua
// (kong/plugins/*/daos.lua).
inline constexpr absl::string_view kKongEntityTypes[] = {
    "workspaces", "consumers", "certificates", "services", "routes", "snis", "upstreams", "targets",
    "plugins", "tags", "ca_certificates", "clustering_data_planes", "parameters", "vaults",
    "key_sets", "keys", "filter_chains",
    // Bundled plugins.
    "acls", "acme_storage", "basicauth_credentials", "hmacauth_credentials", "jwt_secrets",
    "keyauth_credentials", "oauth2_credentials", "oauth2_authorization_codes", "oauth2_tokens",
    "ratelimiting_metrics", "sessions", "session_metadatas"};

inline bool IsKongEntityType(absl::string_view type) {
  return std::find(std::begin(kKongEntityTypes), std::end(kKongEntityTypes), type) !=
         std::end(kKongEntityTypes);
}

}  // namespace tether::protocol

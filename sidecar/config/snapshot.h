// Snapshot: one decoded Kong config, as the control plane pushed it.
//
// Why: everything downstream (the gRPC API, status, the disk cache) reads configs, and none of
// it may see a half-applied one or pay to re-serialise entities. A Snapshot is built once on the
// decode thread and then never changes; it is shared as SnapshotPtr by any number of readers.
//
// Threading: immutable once published (only the decoder builds one).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tether::config {

// Where the current snapshot came from (mirrors tether.v1.Source).
enum class Source { kNone, kControlPlane, kDiskCache };

// One entity row of `config_table`, e.g. a service.
struct Entity {
  // Primary key: `id`, or `key` for `parameters` (kong-protocol.md §7.3).
  std::string id;
  // The row as compact JSON, keys in the order the CP sent them; served without re-serialising.
  // Deltas compare rows by this text first, and by Kong's canonical form only when it differs
  // (delta.h), so the decoder need not hash every row.
  std::string json;
};

// All entities of one type, in the order the CP sent them.
struct EntityCollection {
  std::vector<Entity> items;
  // Kong's hash for the section (from the message for Kong's hashed sections, computed with the
  // same algorithm for every other type).
  std::string hash;

  // Null when no entity of this type has that id.
  const Entity* Find(absl::string_view id) const;

  // id -> index into items. Built once by the decoder.
  absl::flat_hash_map<std::string, size_t> index;
};

struct Snapshot {
  // Snapshots are shared, never copied.
  Snapshot() = default;
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // 32 lowercase hex chars: the CP's config_hash, or Kong's algorithm when the message had none.
  std::string config_hash;
  // Kong's {config, routes, services, plugins, upstreams, targets} (missing ones are 32 zeros),
  // plus one entry per other entity type present, keyed by type name.
  std::map<std::string, std::string> hashes;
  // Entity collections keyed by type name (`services`, `routes`, `consumers`, ...).
  std::map<std::string, EntityCollection, std::less<>> types;
  // Top-level keys of config_table that are not entity collections (`_format_version`,
  // `_transform`, `_comment`, ...) -> their compact JSON.
  std::map<std::string, std::string> metadata;

  Source source = Source::kNone;
  absl::Time received_at = absl::InfinitePast();
  // The reconfigure message's `timestamp` (CP clock, float seconds) when present.
  std::optional<double> cp_timestamp;
  size_t compressed_bytes = 0;
  size_t decoded_bytes = 0;
  absl::Duration decode_duration;

  size_t EntityCount() const;
  // Null when absent.
  const Entity* Find(absl::string_view type, absl::string_view id) const;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace tether::config

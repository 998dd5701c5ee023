// Per-entity differences between two snapshots, for delta updates to subscribers.
//
// Why: a proxy holding a 100k-entity config should receive the three routes that changed, not
// the whole config again (Envoy's delta xDS). Entities are matched by (type, id) and compared by
// their JSON, then by Kong's canonical form when the JSON differs, so a CP that re-sent a row with
// its keys reordered is not a change.
//
// Threading: pure functions over immutable snapshots; thread-safe.
#pragma once

#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "sidecar/config/snapshot.h"

namespace tether::config {

// The entity types a subscriber asked for; empty means every type.
class TypeFilter {
 public:
  TypeFilter() = default;
  explicit TypeFilter(std::set<std::string, std::less<>> types) : types_(std::move(types)) {}

  bool Matches(absl::string_view type) const;
  bool all() const { return types_.empty(); }
  const std::set<std::string, std::less<>>& types() const { return types_; }
  // A stable key for caching ("*" for all, else the sorted types joined by ',').
  std::string Key() const;
  // The key of what this filter selects from `snapshots` (an update's target, and its base for a
  // delta): Key() without the types none of them holds, as an entity type or a section hash.
  // Filters that differ only in such types select the same bytes, so they must share a cache
  // entry (a client must not get a fresh copy of the config per made-up type name). "-" when
  // the filter names no type they hold: every such filter selects nothing but the config's hash
  // and metadata.
  std::string KeyWithin(std::initializer_list<const Snapshot*> snapshots) const;

 private:
  std::set<std::string, std::less<>> types_;
};

// Views into the two snapshots, which the caller keeps alive: a delta of a whole large config
// lists over a hundred thousand rows, and an update keeps its delta while it is sent, so each
// row costs two or three pointers rather than copies of its type and id.
struct EntityChange {
  absl::string_view type;  // the target's
  const Entity* entity;    // the target's
};

struct EntityRemoval {
  absl::string_view type;  // the base's
  absl::string_view id;    // the base's
};

struct Delta {
  std::vector<EntityChange> upserts;  // in the target's type order, then the CP's row order
  std::vector<EntityRemoval> removals;
  // Metadata keys (`_format_version`, ...) whose value differs or that the target lacks.
  bool metadata_changed = false;
  // A filtered type appeared or vanished, even with no rows (an empty collection is a type the CP
  // sent on purpose, and full updates list it in entity_types).
  bool types_changed = false;
  // A filtered type's section hash differs (the whole-config "config" hash is not compared: it
  // moves with every config). Usually implied by entity changes, but a CP may re-hash the same
  // rows differently, and a subscriber's hashes must still end up equal to the target's.
  bool hashes_changed = false;

  // True when a subscriber with this filter has nothing to learn from the target.
  bool empty() const {
    return upserts.empty() && removals.empty() && !metadata_changed && !types_changed &&
           !hashes_changed;
  }
};

// What must be applied to `from` (restricted to `filter`) to obtain `to` (restricted to
// `filter`): entities new or changed in `to` are upserts, entities gone from `to` are removals.
Delta ComputeDelta(const Snapshot& from, const Snapshot& to, const TypeFilter& filter);

}  // namespace tether::config

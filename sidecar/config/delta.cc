#include "sidecar/config/delta.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_join.h"
#include "protocol/kong_hash.h"
#include "rapidjson/document.h"
#include "sidecar/config/decoder.h"
#include "sidecar/config/json_parse.h"

namespace tether::config {
namespace {

// Kong's key for the whole-config hash in Snapshot::hashes (kong-protocol.md §3.2). It changes
// with every config, so it tells a subscriber nothing about its own types.
constexpr absl::string_view kConfigHashKey = "config";

// True when a filtered type's section hash differs between `from` and `to`, or a filtered type
// has a hash in one and not the other. Entity changes usually move these hashes too, but a CP
// may send a different section hash for the same rows, and the subscriber's hashes must still
// end up equal to the target's.
bool FilteredHashesDiffer(const Snapshot& from, const Snapshot& to, const TypeFilter& filter) {
  auto next_filtered = [&filter](const std::map<std::string, std::string>& hashes, auto it) {
    while (it != hashes.end() && (it->first == kConfigHashKey || !filter.Matches(it->first))) {
      ++it;
    }
    return it;
  };
  auto a = next_filtered(from.hashes, from.hashes.begin());
  auto b = next_filtered(to.hashes, to.hashes.begin());
  while (a != from.hashes.end() && b != to.hashes.end()) {
    if (*a != *b) return true;
    a = next_filtered(from.hashes, std::next(a));
    b = next_filtered(to.hashes, std::next(b));
  }
  return a != from.hashes.end() || b != to.hashes.end();
}

// True when the set of filtered types present differs (a type appeared or vanished, even empty).
bool FilteredTypesDiffer(const Snapshot& from, const Snapshot& to, const TypeFilter& filter) {
  for (const auto& [type, collection] : to.types) {
    if (filter.Matches(type) && from.types.find(type) == from.types.end()) return true;
  }
  for (const auto& [type, collection] : from.types) {
    if (filter.Matches(type) && to.types.find(type) == to.types.end()) return true;
  }
  return false;
}

// Kong's digest of a row's JSON, or nullopt if it does not parse (never for rows the decoder
// kept, which parsed within the decoder's depth cap).
std::optional<std::array<uint8_t, 16>> CanonicalDigest(absl::string_view json) {
  // Parsed as the decoder parses the message, so every number means what it meant there.
  RowParser parser(DecodeLimits{}.max_json_depth);
  const absl::StatusOr<const rapidjson::Value*> row = parser.Parse(json);
  if (!row.ok()) return std::nullopt;
  return protocol::KongDigest(**row);
}

// Whether a row means the same in both snapshots. Unchanged rows almost always have the same
// bytes, so Kong's canonical form (which ignores key order) is only worked out when they differ:
// a CP that re-sends a row with its keys reordered changes nothing.
bool SameRow(const Entity& before, const Entity& after) {
  // Rows shared between snapshots (sharing.h) are the same memory.
  if (before.json.size() == after.json.size() &&
      (before.json.data() == after.json.data() || before.json == after.json)) {
    return true;
  }
  const std::optional<std::array<uint8_t, 16>> a = CanonicalDigest(before.json);
  return a.has_value() && a == CanonicalDigest(after.json);
}

}  // namespace

bool TypeFilter::Matches(absl::string_view type) const {
  return types_.empty() || types_.find(type) != types_.end();
}

std::string TypeFilter::Key() const {
  // std::set iterates in sorted order, so equal filters give equal keys.
  return types_.empty() ? std::string("*") : absl::StrJoin(types_, ",");
}

std::string TypeFilter::KeyWithin(std::initializer_list<const Snapshot*> snapshots) const {
  if (types_.empty()) return "*";
  auto held = [&snapshots](const std::string& type) {
    for (const Snapshot* s : snapshots) {
      if (s->types.find(type) != s->types.end()) return true;
      if (type != kConfigHashKey && s->hashes.find(type) != s->hashes.end()) return true;
    }
    return false;
  };
  std::string key;
  for (const std::string& type : types_) {
    if (!held(type)) continue;
    if (!key.empty()) key += ',';
    key += type;
  }
  return key.empty() ? std::string("-") : key;
}

Delta ComputeDelta(const Snapshot& from, const Snapshot& to, const TypeFilter& filter) {
  Delta delta;
  for (const auto& [type, collection] : to.types) {
    if (!filter.Matches(type)) continue;
    const auto from_it = from.types.find(type);
    const EntityCollection* from_collection =
        from_it == from.types.end() ? nullptr : from_it->second.get();
    // A collection shared by both snapshots (sharing.h) did not change.
    if (from_collection == collection.get()) continue;
    for (const Entity& entity : collection->items) {
      const Entity* before =
          from_collection == nullptr ? nullptr : from_collection->Find(entity.id);
      if (before == nullptr || !SameRow(*before, entity)) {
        delta.upserts.push_back(EntityChange{type, &entity});
      }
    }
  }
  for (const auto& [type, collection] : from.types) {
    if (!filter.Matches(type)) continue;
    const auto to_it = to.types.find(type);
    const EntityCollection* to_collection = to_it == to.types.end() ? nullptr : to_it->second.get();
    if (to_collection == collection.get()) continue;
    for (const Entity& entity : collection->items) {
      if (to_collection == nullptr || to_collection->Find(entity.id) == nullptr) {
        delta.removals.push_back(EntityRemoval{type, entity.id});
      }
    }
  }
  // Metadata (`_format_version`, ...) belongs to the whole config, so no filter applies.
  delta.metadata_changed = from.metadata != to.metadata;
  delta.types_changed = FilteredTypesDiffer(from, to, filter);
  delta.hashes_changed = FilteredHashesDiffer(from, to, filter);
  return delta;
}

}  // namespace tether::config

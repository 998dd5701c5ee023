#include "sidecar/config/snapshot.h"

#include <utility>

namespace tether::config {

const Entity* EntityCollection::Find(absl::string_view id) const {
  const auto it = index.find(id);
  return it == index.end() ? nullptr : &items[it->second];
}

size_t EntityCollection::OverheadBytes() const {
  return sizeof(EntityCollection) + items.capacity() * sizeof(Entity) + hash.capacity() +
         index.capacity() * (sizeof(decltype(index)::value_type) + 1);
}

size_t Snapshot::EntityCount() const {
  size_t count = 0;
  for (const auto& [type, collection] : types) count += collection->items.size();
  return count;
}

const Entity* Snapshot::Find(absl::string_view type, absl::string_view id) const {
  const auto it = types.find(type);
  return it == types.end() ? nullptr : it->second->Find(id);
}

absl::string_view Snapshot::Keep(std::string text) {
  blocks_.push_back(std::make_shared<const std::string>(std::move(text)));
  return *blocks_.back();
}

}  // namespace tether::config

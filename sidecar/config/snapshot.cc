#include "sidecar/config/snapshot.h"

#include <utility>

#include "absl/hash/hash.h"

namespace tether::config {

EntityCollection::EntityCollection(const EntityCollection& other)
    : items(other.items), hash(other.hash) {
  BuildIndex();
}

size_t EntityCollection::IdHash::operator()(uint32_t position) const {
  return (*this)((*items)[position].id);
}
size_t EntityCollection::IdHash::operator()(absl::string_view id) const {
  return absl::Hash<absl::string_view>{}(id);
}
bool EntityCollection::IdEq::operator()(uint32_t a, absl::string_view b) const {
  return (*items)[a].id == b;
}

const Entity* EntityCollection::Find(absl::string_view id) const {
  const auto it = index_.find(id);
  return it == index_.end() ? nullptr : &items[*it];
}

std::optional<size_t> EntityCollection::BuildIndex() {
  index_.clear();
  index_.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    if (!index_.insert(static_cast<uint32_t>(i)).second) return i;
  }
  return std::nullopt;
}

size_t EntityCollection::OverheadBytes() const {
  return sizeof(EntityCollection) + items.capacity() * sizeof(Entity) + hash.capacity() +
         index_.capacity() * (sizeof(uint32_t) + 1);
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

#include "sidecar/config/snapshot.h"

#include <algorithm>
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

std::string* Snapshot::NewBlock(size_t capacity) {
  auto block = std::make_shared<std::string>();
  block->reserve(capacity);
  std::string* text = block.get();
  blocks_.push_back(std::move(block));
  return text;
}

absl::string_view TextAppender::Add(absl::string_view text) {
  constexpr size_t kFirstBlockBytes = size_t{64} << 10;
  constexpr size_t kMaxBlockBytes = size_t{1} << 20;
  if (block_ == nullptr || block_->capacity() - block_->size() < text.size()) {
    const size_t bytes = block_ == nullptr ? kFirstBlockBytes : next_block_bytes_;
    next_block_bytes_ = std::min(bytes * 2, kMaxBlockBytes);
    block_ = snapshot_.NewBlock(std::max(text.size(), bytes));
  }
  const size_t at = block_->size();
  block_->append(text.data(), text.size());
  return absl::string_view(*block_).substr(at);
}

}  // namespace tether::config

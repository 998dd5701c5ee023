#include "sidecar/config/sharing.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"

namespace tether::config {
namespace {

// Byte equality, without reading the bytes when both views are the same memory (rows shared by
// earlier snapshots, the common case).
bool SameText(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && (a.data() == b.data() || a == b);
}

bool SameRows(const EntityCollection& a, const EntityCollection& b) {
  if (a.items.size() != b.items.size() || a.hash != b.hash) return false;
  for (size_t i = 0; i < a.items.size(); ++i) {
    if (!SameText(a.items[i].id, b.items[i].id) || !SameText(a.items[i].json, b.items[i].json)) {
      return false;
    }
  }
  return true;
}

// Whether `part` views bytes of `whole`.
bool Inside(absl::string_view part, absl::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// The text blocks a snapshot may keep, sorted by address, with what its entities use of each.
class BlockUse {
 public:
  explicit BlockUse(std::vector<TextBlock> blocks) {
    std::sort(blocks.begin(), blocks.end(),
              [](const TextBlock& a, const TextBlock& b) { return a->data() < b->data(); });
    blocks.erase(std::unique(blocks.begin(), blocks.end()), blocks.end());
    for (TextBlock& block : blocks) blocks_.push_back(Use{std::move(block)});
  }

  // Counts `text` as used; `pinned` when it cannot be moved (a shared collection views it).
  void Count(absl::string_view text, bool pinned) {
    const size_t i = IndexOf(text);
    if (i == kNone) return;
    blocks_[i].live += text.size();
    blocks_[i].pinned = blocks_[i].pinned || pinned;
  }

  // Whether `text` stays where it is: its block is pinned or at least half used.
  bool Stays(absl::string_view text) const {
    const size_t i = IndexOf(text);
    return i != kNone && Keeps(blocks_[i]);
  }

  // The blocks that stay.
  std::vector<TextBlock> Kept() const {
    std::vector<TextBlock> kept;
    for (const Use& use : blocks_) {
      if (Keeps(use)) kept.push_back(use.block);
    }
    return kept;
  }

 private:
  struct Use {
    TextBlock block;
    size_t live = 0;
    bool pinned = false;
  };
  static constexpr size_t kNone = SIZE_MAX;

  static bool Keeps(const Use& use) { return use.pinned || use.live * 2 >= use.block->size(); }

  // The block `text` lies in, or kNone.
  size_t IndexOf(absl::string_view text) const {
    // The last block starting at or before `text`.
    auto it =
        std::upper_bound(blocks_.begin(), blocks_.end(), text.data(),
                         [](const char* at, const Use& use) { return at < use.block->data(); });
    if (it == blocks_.begin()) return kNone;
    --it;
    return Inside(text, *it->block) ? static_cast<size_t>(it - blocks_.begin()) : kNone;
  }

  std::vector<Use> blocks_;
};

// `view` moved into `block` when it lies inside `from` (which now sits at `to` in the block).
absl::string_view Moved(absl::string_view view, absl::string_view from, const char* to) {
  return absl::string_view(to + (view.data() - from.data()), view.size());
}

}  // namespace

SharingStats ShareWithPrevious(Snapshot& next, const Snapshot& previous) {
  SharingStats stats;
  // Collections: unchanged ones are taken over; the others are rebuilt with their unchanged rows
  // viewing the previous snapshot's text.
  std::vector<std::shared_ptr<EntityCollection>> rebuilt;
  absl::flat_hash_set<const EntityCollection*> rebuilt_set;
  for (auto& [type, collection] : next.types) {
    const auto before = previous.types.find(type);
    if (before != previous.types.end() && SameRows(*collection, *before->second)) {
      collection = before->second;
      ++stats.shared_collections;
      continue;
    }
    auto copy = std::make_shared<EntityCollection>();
    copy->hash = collection->hash;
    copy->items.reserve(collection->items.size());
    for (const Entity& entity : collection->items) {
      const Entity* old =
          before == previous.types.end() ? nullptr : before->second->Find(entity.id);
      if (old != nullptr && SameText(old->json, entity.json) && SameText(old->id, entity.id)) {
        copy->items.push_back(*old);
        ++stats.shared_rows;
      } else {
        copy->items.push_back(entity);
      }
    }
    rebuilt.push_back(copy);
    rebuilt_set.insert(copy.get());
    collection = std::move(copy);
  }

  // Text: what each block still holds for this snapshot decides whether it stays.
  std::vector<TextBlock> candidates = next.blocks();
  candidates.insert(candidates.end(), previous.blocks().begin(), previous.blocks().end());
  BlockUse use(candidates);
  for (const auto& [type, collection] : next.types) {
    const bool pinned = !rebuilt_set.contains(collection.get());
    for (const Entity& entity : collection->items) {
      use.Count(entity.json, pinned);
      if (!Inside(entity.id, entity.json)) use.Count(entity.id, pinned);
    }
  }

  // Rows in blocks that go are copied into one new block, reserved up front so that views into
  // it never move.
  size_t copy_bytes = 0;
  for (const auto& collection : rebuilt) {
    for (const Entity& entity : collection->items) {
      if (!use.Stays(entity.json)) copy_bytes += entity.json.size();
      if (!Inside(entity.id, entity.json) && !use.Stays(entity.id)) copy_bytes += entity.id.size();
    }
  }
  std::vector<TextBlock> kept = use.Kept();
  if (copy_bytes > 0) {
    auto block = std::make_shared<std::string>();
    block->reserve(copy_bytes);
    for (const auto& collection : rebuilt) {
      for (Entity& entity : collection->items) {
        const bool id_inside = Inside(entity.id, entity.json);
        if (!use.Stays(entity.json)) {
          const char* at = block->data() + block->size();
          block->append(entity.json.data(), entity.json.size());
          if (id_inside) entity.id = Moved(entity.id, entity.json, at);
          entity.json = absl::string_view(at, entity.json.size());
        }
        if (!id_inside && !use.Stays(entity.id)) {
          const char* at = block->data() + block->size();
          block->append(entity.id.data(), entity.id.size());
          entity.id = absl::string_view(at, entity.id.size());
        }
      }
    }
    stats.copied_bytes = copy_bytes;
    kept.push_back(std::move(block));
  }

  // Index keys view ids, which may have moved.
  for (const auto& collection : rebuilt) collection->BuildIndex();

  // Accounting: what `next` holds that `previous` does not.
  size_t added = 0;
  for (const TextBlock& block : kept) {
    const bool from_previous = std::find(previous.blocks().begin(), previous.blocks().end(),
                                         block) != previous.blocks().end();
    if (!from_previous) added += block->size();
  }
  for (const TextBlock& block : next.blocks()) {
    if (std::find(kept.begin(), kept.end(), block) == kept.end()) {
      stats.released_bytes += block->size();
    }
  }
  for (const auto& collection : rebuilt) added += collection->OverheadBytes();
  next.added_bytes = added;
  next.SetBlocks(std::move(kept));
  return stats;
}

}  // namespace tether::config

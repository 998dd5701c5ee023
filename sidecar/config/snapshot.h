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

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tether::config {

// Where the current snapshot came from (mirrors tether.v1.Source).
enum class Source { kNone, kControlPlane, kDiskCache };

// One entity row of `config_table`, e.g. a service. Both fields view text that the Snapshot
// holding the entity keeps alive (Snapshot::blocks), so an Entity is valid while
// its Snapshot is.
struct Entity {
  // Primary key: `id`, or `key` for `parameters` (kong-protocol.md §7.3).
  absl::string_view id;
  // The row's JSON exactly as the CP sent it, copied out of the inflated message (or the same row
  // of an earlier config), served without being re-serialised. Deltas compare rows by this text
  // first, and by Kong's canonical form only when it differs (delta.h), so the decoder need not
  // hash every row.
  absl::string_view json;
};

// All entities of one type, in the order the CP sent them. Immutable once its snapshot is
// published; a collection that did not change from one config to the next is shared by both
// snapshots (sharing.h).
struct EntityCollection {
  EntityCollection() = default;
  // A copy indexes its own items.
  EntityCollection(const EntityCollection& other);
  EntityCollection& operator=(const EntityCollection&) = delete;

  std::vector<Entity> items;
  // Kong's hash for the section (from the message for Kong's hashed sections, computed with the
  // same algorithm for every other type).
  std::string hash;

  // Null when no entity of this type has that id.
  const Entity* Find(absl::string_view id) const;

  // Indexes `items` by id, once they are all in (and again whenever their ids move). The position
  // of the first entity whose id repeats an earlier one's, or nullopt when every id differs.
  std::optional<size_t> BuildIndex();
  size_t IndexSize() const { return index_.size(); }

  // Memory the collection holds beyond the text its entities view.
  size_t OverheadBytes() const;

 private:
  // The index holds positions into `items`, hashed and compared by their entity's id: a slot is
  // 4 bytes instead of a 16-byte view and an 8-byte position.
  struct IdHash {
    using is_transparent = void;
    const std::vector<Entity>* items;
    size_t operator()(uint32_t position) const;
    size_t operator()(absl::string_view id) const;
  };
  struct IdEq {
    using is_transparent = void;
    const std::vector<Entity>* items;
    bool operator()(uint32_t a, uint32_t b) const { return (*this)(a, (*items)[b].id); }
    bool operator()(uint32_t a, absl::string_view b) const;
    bool operator()(absl::string_view a, uint32_t b) const { return (*this)(b, a); }
  };
  absl::flat_hash_set<uint32_t, IdHash, IdEq> index_{0, IdHash{&items}, IdEq{&items}};
};
using CollectionPtr = std::shared_ptr<const EntityCollection>;

// A block of text that entities view, shared by every snapshot with an entity in it.
using TextBlock = std::shared_ptr<const std::string>;

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
  // Entity collections keyed by type name (`services`, `routes`, `consumers`, ...). Never null.
  std::map<std::string, CollectionPtr, std::less<>> types;
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

  // Takes ownership of `text` and returns a view of it that is valid as long as the snapshot:
  // what entity ids and JSON point into (for a decoded snapshot, an id sent with escapes).
  absl::string_view Keep(std::string text);
  // An empty block with room for `capacity` bytes, for text appended while the snapshot is built:
  // appends that fit never move what the block already holds, so views of it stay valid.
  std::string* NewBlock(size_t capacity);
  // The text the entities view.
  const std::vector<TextBlock>& blocks() const { return blocks_; }
  // Replaces the blocks (sharing.cc, once the entities view only `blocks`, which may be other
  // snapshots' too).
  void SetBlocks(std::vector<TextBlock> blocks) { blocks_ = std::move(blocks); }

  // What this snapshot added to memory when it was built: the text and collections it does not
  // share with the snapshot before it (all of them for one built alone). The store's history
  // budget counts this, so that past configs sharing most of their text cost what they add.
  size_t added_bytes = 0;

 private:
  std::vector<TextBlock> blocks_;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

// Text appended to blocks a snapshot being built keeps, each view valid as long as the snapshot.
// Blocks start small and double up to a cap, so that a few rows hold little and a whole config
// few blocks.
class TextAppender {
 public:
  explicit TextAppender(Snapshot& snapshot) : snapshot_(snapshot) {}

  absl::string_view Add(absl::string_view text);

 private:
  Snapshot& snapshot_;
  std::string* block_ = nullptr;  // the block being filled
  size_t next_block_bytes_ = 0;
};

}  // namespace tether::config

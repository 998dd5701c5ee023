#include "client/lib/mirror.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tether::client {

size_t Mirror::EntityCount() const {
  size_t count = 0;
  for (const auto& [type, rows] : entities) count += rows.size();
  return count;
}

UpdateAssembler::UpdateAssembler(MirrorPtr initial)
    : current_(initial != nullptr ? std::move(initial) : std::make_shared<const Mirror>()) {}

absl::StatusOr<std::optional<MirrorPtr>> UpdateAssembler::Add(
    const tether::v1::WatchResponse& chunk) {
  absl::Status status = pending_.has_value() ? Continue(chunk) : Begin(chunk);
  if (status.ok()) status = Apply(chunk);
  if (!status.ok()) {
    // The partial copy goes with it; current_ was never touched.
    pending_.reset();
    return status;
  }
  ++pending_->next_index;
  if (!chunk.last_chunk()) return std::optional<MirrorPtr>();
  return std::optional<MirrorPtr>(Complete());
}

absl::Status UpdateAssembler::Begin(const tether::v1::WatchResponse& chunk) {
  if (chunk.config_hash().empty()) {
    return absl::InvalidArgumentError("update chunk without config_hash");
  }
  if (chunk.chunk_index() != 0) {
    return absl::InvalidArgumentError(absl::StrCat("update ", chunk.config_hash(),
                                                   ": first chunk has chunk_index ",
                                                   chunk.chunk_index(), ", want 0"));
  }
  if (!chunk.full() && chunk.base_hash() != current_->config_hash) {
    return absl::InvalidArgumentError(
        absl::StrCat("delta to ", chunk.config_hash(), " applies to ", chunk.base_hash(),
                     " but the mirror holds ",
                     current_->config_hash.empty() ? "nothing" : current_->config_hash));
  }
  Pending pending;
  pending.config_hash = chunk.config_hash();
  pending.base_hash = chunk.base_hash();
  pending.full = chunk.full();
  pending.entity_types.insert(chunk.entity_types().begin(), chunk.entity_types().end());
  // Copy-on-write: readers of current_ keep a consistent mirror while this one is built.
  pending.mirror = pending.full ? std::make_shared<Mirror>() : std::make_shared<Mirror>(*current_);
  Mirror& mirror = *pending.mirror;
  mirror.config_hash = chunk.config_hash();
  mirror.hashes = {chunk.hashes().begin(), chunk.hashes().end()};
  mirror.source = chunk.source();
  if (pending.full) {
    mirror.metadata = {chunk.metadata().begin(), chunk.metadata().end()};
  } else if (!chunk.metadata().empty()) {
    // A delta carries the target's whole metadata when it changed; an empty value marks a key the
    // target no longer has (sidecar/api/update_builder.h).
    mirror.metadata.clear();
    for (const auto& [key, json] : chunk.metadata()) {
      if (!json.empty()) mirror.metadata.emplace(key, json);
    }
  }
  pending_ = std::move(pending);
  return absl::OkStatus();
}

absl::Status UpdateAssembler::Continue(const tether::v1::WatchResponse& chunk) const {
  const Pending& pending = *pending_;
  if (chunk.config_hash() != pending.config_hash) {
    return absl::InvalidArgumentError(absl::StrCat("update ", pending.config_hash, ": chunk ",
                                                   chunk.chunk_index(), " has config_hash ",
                                                   chunk.config_hash()));
  }
  if (chunk.full() != pending.full || chunk.base_hash() != pending.base_hash) {
    return absl::InvalidArgumentError(absl::StrCat("update ", pending.config_hash, ": chunk ",
                                                   chunk.chunk_index(),
                                                   " changes full or base_hash mid-update"));
  }
  if (chunk.chunk_index() != pending.next_index) {
    return absl::InvalidArgumentError(absl::StrCat("update ", pending.config_hash, ": chunk_index ",
                                                   chunk.chunk_index(), ", want ",
                                                   pending.next_index));
  }
  if (!chunk.metadata().empty()) {
    // Ignoring it would silently lose metadata.
    return absl::InvalidArgumentError(absl::StrCat("update ", pending.config_hash, ": chunk ",
                                                   chunk.chunk_index(),
                                                   " carries metadata (only the first may)"));
  }
  return absl::OkStatus();
}

absl::Status UpdateAssembler::Apply(const tether::v1::WatchResponse& chunk) {
  Pending& pending = *pending_;
  Mirror& mirror = *pending.mirror;
  if (pending.full && chunk.removals_size() > 0) {
    return absl::InvalidArgumentError(absl::StrCat("full update ", pending.config_hash, ": chunk ",
                                                   chunk.chunk_index(), " has ",
                                                   chunk.removals_size(), " removals"));
  }
  for (const tether::v1::EntityRef& removal : chunk.removals()) {
    // A removal may name a type the update no longer lists (the whole type went away), and
    // removing what is not held changes nothing.
    const auto it = mirror.entities.find(removal.type());
    if (it != mirror.entities.end()) it->second.erase(removal.id());
  }
  for (const tether::v1::Entity& upsert : chunk.upserts()) {
    if (pending.entity_types.count(upsert.type()) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update ", pending.config_hash, ": upsert of ", upsert.type(), "/", upsert.id(),
          " but the update does not list type ", upsert.type(), " in entity_types"));
    }
    mirror.entities[upsert.type()][upsert.id()] = upsert.json();
  }
  return absl::OkStatus();
}

MirrorPtr UpdateAssembler::Complete() {
  Mirror& mirror = *pending_->mirror;
  const std::set<std::string>& types = pending_->entity_types;
  // entity_types is the set of types the update brings the mirror to: a type missing from it
  // is gone (even if it had no rows left to remove), and a listed type without rows is empty.
  for (auto it = mirror.entities.begin(); it != mirror.entities.end();) {
    it = types.count(it->first) == 0 ? mirror.entities.erase(it) : std::next(it);
  }
  for (const std::string& type : types) mirror.entities.try_emplace(type);
  current_ = std::move(pending_->mirror);
  pending_.reset();
  return current_;
}

}  // namespace tether::client

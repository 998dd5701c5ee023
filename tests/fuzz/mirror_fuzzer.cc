// libFuzzer harness: the client library's UpdateAssembler (client/lib/mirror.h), fed the chunks of
// one Watch stream in order. The input is a sequence of chunks, each a 2-byte little-endian length
// and that many bytes of a serialised tether.v1.WatchResponse (the last one takes what is left);
// a chunk that does not parse is skipped.
//
// Besides never crashing, the assembler must keep mirror.h's contract: a rejected chunk leaves
// the held mirror as it was and drops the partial update; chunks it accepts are consistent; a
// published mirror never changes; and a completed update holds exactly what its chunks say: for
// each entity the last upsert or removal in the update wins over the state it applies to.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "client/lib/mirror.h"
#include "google/protobuf/stubs/logging.h"
#include "tests/fuzz/fuzz_check.h"
#include "tether/v1/config.pb.h"

namespace tether::fuzz {
namespace {

using client::Mirror;
using client::MirrorPtr;

// Bounds the work per input: each chunk copies the held mirror.
constexpr size_t kMaxChunks = 64;

bool Same(const Mirror& a, const Mirror& b) {
  return a.config_hash == b.config_hash && a.hashes == b.hashes && a.entities == b.entities &&
         a.metadata == b.metadata && a.source == b.source;
}

// What the update being assembled must produce, built from its accepted chunks.
struct Expected {
  MirrorPtr base;  // the mirror held when the update began
  std::string config_hash;
  std::string base_hash;
  bool full = true;
  uint32_t next_index = 0;
  std::set<std::string> types;
  Mirror first;  // hashes, metadata and source as the first chunk gives them
  bool first_has_metadata = false;
  // type -> id -> the entity's JSON after its last upsert, or nullopt after its last removal.
  std::map<std::string, std::map<std::string, std::optional<std::string>>> last_op;
};

std::vector<v1::WatchResponse> ParseChunks(const uint8_t* data, size_t size) {
  std::vector<v1::WatchResponse> chunks;
  while (size > 0 && chunks.size() < kMaxChunks) {
    size_t length = size;
    if (size >= 2) {
      length = std::min<size_t>(data[0] | (size_t{data[1]} << 8), size - 2);
      data += 2;
      size -= 2;
    }
    v1::WatchResponse chunk;
    if (chunk.ParseFromArray(data, static_cast<int>(length))) chunks.push_back(std::move(chunk));
    data += length;
    size -= length;
  }
  return chunks;
}

// Checks an accepted chunk against the update it belongs to (mirror.h lists what is rejected).
void CheckAccepted(const v1::WatchResponse& chunk, const Expected& update) {
  Require(chunk.config_hash() == update.config_hash, "accepted a chunk of another update");
  Require(chunk.full() == update.full && chunk.base_hash() == update.base_hash,
          "accepted a chunk that changes full or base_hash");
  Require(chunk.chunk_index() == update.next_index, "accepted a chunk out of order");
  Require(chunk.chunk_index() == 0 || chunk.metadata().empty(),
          "accepted metadata after the first chunk");
  Require(!update.full || chunk.removals().empty(), "accepted removals in a full update");
  for (const v1::Entity& upsert : chunk.upserts()) {
    Require(update.types.count(upsert.type()) == 1, "accepted an upsert of an unlisted type");
  }
}

Expected Begin(const v1::WatchResponse& chunk, const MirrorPtr& held) {
  Require(!chunk.config_hash().empty(), "accepted an update without config_hash");
  Require(chunk.full() || chunk.base_hash() == held->config_hash,
          "accepted a delta to a state the mirror does not hold");
  Expected update;
  update.base = held;
  update.config_hash = chunk.config_hash();
  update.base_hash = chunk.base_hash();
  update.full = chunk.full();
  update.types = {chunk.entity_types().begin(), chunk.entity_types().end()};
  update.first.hashes = {chunk.hashes().begin(), chunk.hashes().end()};
  update.first.metadata = {chunk.metadata().begin(), chunk.metadata().end()};
  update.first.source = chunk.source();
  update.first_has_metadata = !chunk.metadata().empty();
  return update;
}

void Record(const v1::WatchResponse& chunk, Expected& update) {
  // Within a chunk, removals apply before upserts.
  for (const v1::EntityRef& removal : chunk.removals()) {
    update.last_op[removal.type()][removal.id()] = std::nullopt;
  }
  for (const v1::Entity& upsert : chunk.upserts()) {
    update.last_op[upsert.type()][upsert.id()] = upsert.json();
  }
}

Mirror Want(const Expected& update) {
  Mirror want;
  want.config_hash = update.config_hash;
  want.hashes = update.first.hashes;
  want.source = update.first.source;
  if (!update.full) {
    want.entities = update.base->entities;
    want.metadata = update.base->metadata;
  }
  if (update.full) {
    want.metadata = update.first.metadata;
  } else if (update.first_has_metadata) {
    // A delta's metadata replaces the held one; an empty value marks a removed key.
    want.metadata.clear();
    for (const auto& [key, json] : update.first.metadata) {
      if (!json.empty()) want.metadata.emplace(key, json);
    }
  }
  for (const auto& [type, ops] : update.last_op) {
    for (const auto& [id, json] : ops) {
      if (json.has_value()) {
        want.entities[type][id] = *json;
      } else if (auto it = want.entities.find(type); it != want.entities.end()) {
        it->second.erase(id);
      }
    }
  }
  std::map<std::string, std::map<std::string, std::string>> kept;
  for (const std::string& type : update.types) kept[type] = std::move(want.entities[type]);
  want.entities = std::move(kept);
  return want;
}

}  // namespace
}  // namespace tether::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Chunks with invalid UTF-8 in string fields are common here; protobuf would log each one.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether;
  using fuzz::Require;
  client::UpdateAssembler assembler;
  // Every mirror published so far, with a copy taken when it was published.
  std::vector<std::pair<client::MirrorPtr, client::Mirror>> published = {
      {assembler.current(), *assembler.current()}};
  std::optional<fuzz::Expected> update;
  for (const v1::WatchResponse& chunk : fuzz::ParseChunks(data, size)) {
    const client::MirrorPtr held = assembler.current();
    absl::StatusOr<std::optional<client::MirrorPtr>> result = assembler.Add(chunk);
    Require(assembler.current() != nullptr, "current() is null");
    if (!result.ok()) {
      Require(result.status().code() == absl::StatusCode::kInvalidArgument,
              "rejected with a code other than InvalidArgument");
      Require(assembler.current() == held, "a rejected chunk replaced the mirror");
      update.reset();  // the partial update is dropped
      continue;
    }
    if (!update.has_value()) {
      Require(chunk.chunk_index() == 0, "accepted an update that starts past chunk 0");
      update = fuzz::Begin(chunk, held);
    }
    fuzz::CheckAccepted(chunk, *update);
    fuzz::Record(chunk, *update);
    ++update->next_index;
    if (!result->has_value()) {
      Require(!chunk.last_chunk(), "the last chunk completed nothing");
      Require(assembler.current() == held, "an incomplete update replaced the mirror");
      continue;
    }
    Require(chunk.last_chunk(), "completed before the last chunk");
    const client::MirrorPtr& mirror = **result;
    Require(mirror != nullptr && mirror == assembler.current(), "completed mirror is not current");
    Require(fuzz::Same(*mirror, fuzz::Want(*update)), "completed mirror differs from its chunks");
    published.emplace_back(mirror, *mirror);
    update.reset();
  }
  for (const auto& [mirror, copy] : published) {
    Require(fuzz::Same(*mirror, copy), "a published mirror changed");
  }
  return 0;
}

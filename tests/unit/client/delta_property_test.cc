// The delta composition property (issue 3): starting from a full update, applying every delta
// the server would send gives exactly the mirror a fresh full update of the latest snapshot
// gives, whatever changed in between and whatever the subscriber's filter.
//
// Randomised but seeded, so a failure names its seed and replays. Snapshots come from generated
// Kong configs through the real decoder; updates go through the real builder with a small chunk
// budget, so multi-chunk updates and oversized single entities are exercised; the client side is
// the real UpdateAssembler.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/lib/mirror.h"
#include "gtest/gtest.h"
#include "protocol/constants.h"
#include "protocol/gzip.h"
#include "rapidjson/document.h"
#include "sidecar/api/update_builder.h"
#include "sidecar/config/decoder.h"

namespace tether::client {
namespace {

constexpr int kSequences = 200;
constexpr int kSnapshotsPerSequence = 10;
constexpr uint32_t kFirstSeed = 20240611;

// Kong's hashed sections, other Kong types, and types Kong does not know, so that every hashing
// path of the decoder is covered.
constexpr absl::string_view kTypePool[] = {"services",  "routes",  "plugins", "upstreams",
                                           "consumers", "widgets", "gadgets"};
constexpr absl::string_view kFieldPool[] = {"name", "port", "paths", "tags", "enabled", "config"};

// One row: (key, JSON value text) in the order the CP would send them; one key is "id".
using Row = std::vector<std::pair<std::string, std::string>>;

// A Kong config_table as the generator edits it.
struct Model {
  std::map<std::string, std::vector<Row>> types;
  std::map<std::string, std::string> metadata;
  // Rows removed earlier, which may come back under the same (type, id).
  std::vector<std::pair<std::string, Row>> removed;
  int next_id = 0;

  std::string ToJson() const {
    std::vector<std::string> members;
    for (const auto& [key, json] : metadata)
      members.push_back(absl::StrCat("\"", key, "\":", json));
    for (const auto& [type, rows] : types) {
      std::vector<std::string> objects;
      for (const Row& row : rows) {
        objects.push_back(absl::StrCat(
            "{",
            absl::StrJoin(row, ",",
                          [](std::string* out, const std::pair<std::string, std::string>& field) {
                            absl::StrAppend(out, "\"", field.first, "\":", field.second);
                          }),
            "}"));
      }
      members.push_back(absl::StrCat("\"", type, "\":[", absl::StrJoin(objects, ","), "]"));
    }
    return absl::StrCat("{", absl::StrJoin(members, ","), "}");
  }
};

// What the sequences exercised, so the test fails if the generator stops covering a case.
struct Coverage {
  int deltas = 0;
  int null_deltas = 0;
  int multi_chunk_deltas = 0;
  int oversized_chunks = 0;
  int removals = 0;
  int types_added = 0;
  int types_removed = 0;
  int metadata_changes = 0;
  int reordered_rows_kept = 0;
};

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  Model Initial(Coverage& coverage) {
    Model model;
    model.metadata["_format_version"] = "\"3.0\"";
    for (int i = 0, n = Uniform(1, 4); i < n; ++i) AddType(model, coverage);
    return model;
  }

  // One to four random edits, or (sometimes) none: a config that changes nothing a subscriber
  // sees must produce no delta.
  void Mutate(Model& model, Coverage& coverage) {
    if (Chance(0.1)) return;
    for (int i = 0, n = Uniform(1, 4); i < n; ++i) {
      switch (Uniform(0, 8)) {
        case 0:
        case 1:
          AddRow(model);
          break;
        case 2:
        case 3:
          ChangeRow(model);
          break;
        case 4:
          ReorderRow(model);
          break;
        case 5:
          RemoveRow(model);
          break;
        case 6:
          if (Chance(0.5)) {
            AddType(model, coverage);
          } else {
            RemoveType(model, coverage);
          }
          break;
        case 7:
          ChangeMetadata(model);
          break;
        case 8:
          ShuffleRows(model);
          break;
      }
    }
  }

  // Empty (all types) a third of the time, else a random subset, sometimes naming a type that
  // never exists.
  config::TypeFilter RandomFilter() {
    std::set<std::string, std::less<>> types;
    if (Chance(0.33)) return config::TypeFilter();
    for (absl::string_view type : kTypePool) {
      if (Chance(0.4)) types.emplace(type);
    }
    if (types.empty() || Chance(0.1)) types.emplace("nonexistent");
    return config::TypeFilter(std::move(types));
  }

  size_t RandomBudget() { return Chance(0.8) ? 2048 : 512; }

  config::Source RandomSource() {
    return Chance(0.8) ? config::Source::kControlPlane : config::Source::kDiskCache;
  }

 private:
  int Uniform(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  std::string RandomString(int max_length) {
    std::string out(Uniform(0, max_length), 'a');
    for (char& c : out) c = static_cast<char>('a' + Uniform(0, 25));
    return out;
  }

  // A JSON value; now and then a long string, so single entities exceed the chunk budget.
  std::string RandomValue() {
    switch (Uniform(0, 6)) {
      case 0:
        return std::to_string(Uniform(0, 65535));
      case 1:
        return absl::StrCat("\"", RandomString(Chance(0.05) ? 3000 : 40), "\"");
      case 2:
        return Chance(0.5) ? "true" : "false";
      case 3:
        return "null";
      case 4:
        return absl::StrCat("[\"", RandomString(8), "\",\"", RandomString(8), "\"]");
      case 5:
        return absl::StrCat("{\"k\":", Uniform(0, 9), ",\"v\":\"", RandomString(6), "\"}");
      default:
        return absl::StrCat("\"", RandomString(200), "\"");
    }
  }

  Row NewRow(Model& model) {
    Row row = {{"id", absl::StrCat("\"id-", model.next_id++, "\"")}};
    for (absl::string_view field : kFieldPool) {
      if (Chance(0.5)) row.emplace_back(std::string(field), RandomValue());
    }
    return row;
  }

  // A random existing (type, row index), or nullopt when there are no rows.
  std::optional<std::pair<std::string, size_t>> PickRow(const Model& model) {
    std::vector<std::pair<std::string, size_t>> all;
    for (const auto& [type, rows] : model.types) {
      for (size_t i = 0; i < rows.size(); ++i) all.emplace_back(type, i);
    }
    if (all.empty()) return std::nullopt;
    return all[Uniform(0, static_cast<int>(all.size()) - 1)];
  }

  std::optional<std::string> PickType(const Model& model) {
    if (model.types.empty()) return std::nullopt;
    auto it = model.types.begin();
    std::advance(it, Uniform(0, static_cast<int>(model.types.size()) - 1));
    return it->first;
  }

  void AddRow(Model& model) {
    const std::optional<std::string> type = PickType(model);
    if (!type.has_value()) return;
    std::vector<Row>& rows = model.types[*type];
    // Sometimes an id comes back after its removal, with the same or new content.
    for (auto it = model.removed.begin(); it != model.removed.end(); ++it) {
      if (it->first == *type && Chance(0.3)) {
        Row row = std::move(it->second);
        model.removed.erase(it);
        if (Chance(0.5)) row.emplace_back("comeback", RandomValue());
        rows.insert(rows.begin() + Uniform(0, static_cast<int>(rows.size())), std::move(row));
        return;
      }
    }
    rows.insert(rows.begin() + Uniform(0, static_cast<int>(rows.size())), NewRow(model));
  }

  void ChangeRow(Model& model) {
    const auto picked = PickRow(model);
    if (!picked.has_value()) return;
    Row& row = model.types[picked->first][picked->second];
    // Any field but "id", which may sit anywhere once the row was reordered.
    std::vector<size_t> fields;
    for (size_t i = 0; i < row.size(); ++i) {
      if (row[i].first != "id") fields.push_back(i);
    }
    if (!fields.empty() && Chance(0.7)) {
      row[fields[Uniform(0, static_cast<int>(fields.size()) - 1)]].second = RandomValue();
    } else {
      row.emplace_back(absl::StrCat("extra", Uniform(0, 1000)), RandomValue());
    }
  }

  // Same content, keys in another order: Kong's digest is unchanged, so this is no change.
  void ReorderRow(Model& model) {
    const auto picked = PickRow(model);
    if (!picked.has_value()) return;
    Row& row = model.types[picked->first][picked->second];
    std::shuffle(row.begin(), row.end(), rng_);
  }

  void RemoveRow(Model& model) {
    const auto picked = PickRow(model);
    if (!picked.has_value()) return;
    std::vector<Row>& rows = model.types[picked->first];
    model.removed.emplace_back(picked->first, std::move(rows[picked->second]));
    rows.erase(rows.begin() + static_cast<ptrdiff_t>(picked->second));
  }

  void AddType(Model& model, Coverage& coverage) {
    std::vector<absl::string_view> absent;
    for (absl::string_view type : kTypePool) {
      if (model.types.find(std::string(type)) == model.types.end()) absent.push_back(type);
    }
    if (absent.empty()) return;
    const std::string type(absent[Uniform(0, static_cast<int>(absent.size()) - 1)]);
    // Zero rows now and then: an empty collection the CP sent on purpose.
    std::vector<Row>& rows = model.types[type];
    for (int i = 0, n = Uniform(0, 6); i < n; ++i) rows.push_back(NewRow(model));
    ++coverage.types_added;
  }

  void RemoveType(Model& model, Coverage& coverage) {
    const std::optional<std::string> type = PickType(model);
    if (!type.has_value()) return;
    for (Row& row : model.types[*type]) model.removed.emplace_back(*type, std::move(row));
    model.types.erase(*type);
    ++coverage.types_removed;
  }

  void ChangeMetadata(Model& model) {
    switch (Uniform(0, 2)) {
      case 0:
        model.metadata["_format_version"] = absl::StrCat("\"3.", Uniform(0, 3), "\"");
        break;
      case 1:
        if (!model.metadata.erase("_comment")) model.metadata["_comment"] = RandomValue();
        break;
      default:
        if (!model.metadata.erase("_transform")) model.metadata["_transform"] = "false";
        break;
    }
  }

  void ShuffleRows(Model& model) {
    const std::optional<std::string> type = PickType(model);
    if (type.has_value()) std::shuffle(model.types[*type].begin(), model.types[*type].end(), rng_);
  }

  std::mt19937 rng_;
};

config::SnapshotPtr Decode(const Model& model, config::Source source) {
  const std::string message =
      absl::StrCat(R"({"type":"reconfigure","config_table":)", model.ToJson(), "}");
  absl::StatusOr<config::DecodeResult> result =
      config::DecodeReconfigure(protocol::Gzip(message), protocol::kEmptyConfigHash,
                                config::DecodeLimits(), source, absl::FromUnixSeconds(1718000000));
  EXPECT_TRUE(result.ok()) << result.status() << "\n" << message.substr(0, 2000);
  return result.ok() ? result->snapshot : nullptr;
}

// Feeds all chunks of `update`, checking the chunk budget on the way; the completed mirror.
absl::StatusOr<MirrorPtr> Apply(UpdateAssembler& assembler, const api::Update& update,
                                size_t budget, Coverage& coverage) {
  absl::StatusOr<std::vector<v1::WatchResponse>> chunks = api::ParseUpdate(update);
  if (!chunks.ok()) return chunks.status();
  for (size_t i = 0; i < chunks->size(); ++i) {
    const v1::WatchResponse& chunk = (*chunks)[i];
    if (update.chunks.bytes(i) > budget) {
      // Only a lone entity too big for any chunk, or the metadata alone on the first chunk, may
      // exceed the budget.
      const int items = chunk.upserts_size() + chunk.removals_size();
      EXPECT_TRUE(items == 1 || (items == 0 && i == 0 && !chunk.metadata().empty()))
          << "chunk " << i << " of " << update.chunks.bytes(i) << " bytes has " << items
          << " entities and " << chunk.metadata_size() << " metadata keys";
      ++coverage.oversized_chunks;
    }
    absl::StatusOr<std::optional<MirrorPtr>> result = assembler.Add(chunk);
    if (!result.ok()) return result.status();
    if (result->has_value() != (i + 1 == chunks->size())) {
      return absl::InternalError(
          absl::StrCat("chunk ", i, " of ", chunks->size(), " completed: ", result->has_value()));
    }
    if (result->has_value()) return **result;
  }
  return absl::InternalError("update without chunks");
}

bool SameJson(const std::string& a, const std::string& b) {
  if (a == b) return true;
  rapidjson::Document da;
  rapidjson::Document db;
  da.Parse(a.data(), a.size());
  db.Parse(b.data(), b.size());
  // RapidJSON compares objects by member, whatever their order.
  return !da.HasParseError() && !db.HasParseError() && da == db;
}

enum class HashCheck { kAll, kExceptConfig };

// got == want in entities (JSON compared as values: a delta keeps a row whose keys the CP only
// reordered), metadata and hashes, and config_hash when `hashes` is kAll.
::testing::AssertionResult SameMirror(const Mirror& got, const Mirror& want, HashCheck hashes,
                                      Coverage& coverage) {
  std::vector<std::string> got_types;
  std::vector<std::string> want_types;
  for (const auto& [type, rows] : got.entities) got_types.push_back(type);
  for (const auto& [type, rows] : want.entities) want_types.push_back(type);
  if (got_types != want_types) {
    return ::testing::AssertionFailure() << "types [" << absl::StrJoin(got_types, ",")
                                         << "], want [" << absl::StrJoin(want_types, ",") << "]";
  }
  for (const auto& [type, want_rows] : want.entities) {
    const auto& got_rows = got.entities.at(type);
    if (got_rows.size() != want_rows.size()) {
      return ::testing::AssertionFailure()
             << type << ": " << got_rows.size() << " rows, want " << want_rows.size();
    }
    for (const auto& [id, json] : want_rows) {
      const auto it = got_rows.find(id);
      if (it == got_rows.end())
        return ::testing::AssertionFailure() << type << "/" << id << " missing";
      if (!SameJson(it->second, json)) {
        return ::testing::AssertionFailure()
               << type << "/" << id << " is " << it->second << ", want " << json;
      }
      if (it->second != json) ++coverage.reordered_rows_kept;
    }
  }
  if (got.metadata != want.metadata) return ::testing::AssertionFailure() << "metadata differs";
  std::map<std::string, std::string> got_hashes = got.hashes;
  std::map<std::string, std::string> want_hashes = want.hashes;
  if (hashes == HashCheck::kExceptConfig) {
    got_hashes.erase("config");
    want_hashes.erase("config");
  } else if (got.config_hash != want.config_hash) {
    return ::testing::AssertionFailure()
           << "config_hash " << got.config_hash << ", want " << want.config_hash;
  }
  if (got_hashes != want_hashes) return ::testing::AssertionFailure() << "hashes differ";
  if (hashes == HashCheck::kAll && got.source != want.source) {
    return ::testing::AssertionFailure() << "source differs";
  }
  return ::testing::AssertionSuccess();
}

// The mirror a fresh client gets from a full update of `snapshot`.
MirrorPtr FreshMirror(const config::SnapshotPtr& snapshot, const config::TypeFilter& filter,
                      size_t budget, Coverage& coverage) {
  UpdateAssembler fresh;
  absl::StatusOr<MirrorPtr> mirror =
      Apply(fresh, *api::BuildFullUpdate(snapshot, filter, budget), budget, coverage);
  EXPECT_TRUE(mirror.ok()) << mirror.status();
  return mirror.ok() ? *mirror : nullptr;
}

// Runs one sequence; returns false after the first failure so the log shows only that one.
bool RunSequence(uint32_t seed, Coverage& coverage) {
  Generator generator(seed);
  const config::TypeFilter filter = generator.RandomFilter();
  const size_t budget = generator.RandomBudget();
  SCOPED_TRACE(absl::StrCat("seed ", seed, " filter ", filter.Key(), " budget ", budget));

  Model model = generator.Initial(coverage);
  std::vector<config::SnapshotPtr> snapshots;
  for (int i = 0; i < kSnapshotsPerSequence; ++i) {
    if (i > 0) generator.Mutate(model, coverage);
    snapshots.push_back(Decode(model, generator.RandomSource()));
    if (snapshots.back() == nullptr) return false;
  }

  UpdateAssembler assembler;
  absl::StatusOr<MirrorPtr> applied =
      Apply(assembler, *api::BuildFullUpdate(snapshots[0], filter, budget), budget, coverage);
  EXPECT_TRUE(applied.ok()) << applied.status();
  if (!applied.ok()) return false;
  // The server computes each delta from the snapshot it last sent, which is not the previous
  // one when that one changed nothing this subscriber sees (issue 3, "Serving").
  config::SnapshotPtr last_sent = snapshots[0];
  for (int i = 1; i < kSnapshotsPerSequence; ++i) {
    SCOPED_TRACE(absl::StrCat("step ", i));
    const config::SnapshotPtr& next = snapshots[i];
    const MirrorPtr want = FreshMirror(next, filter, budget, coverage);
    if (want == nullptr) return false;
    const api::UpdatePtr delta = api::BuildDeltaUpdate(last_sent, next, filter, budget);
    if (delta == nullptr) {
      ++coverage.null_deltas;
      // Not woken: the mirror keeps the hash it holds, and nothing it shows differs.
      EXPECT_EQ(assembler.current()->config_hash, last_sent->config_hash);
      const ::testing::AssertionResult same =
          SameMirror(*assembler.current(), *want, HashCheck::kExceptConfig, coverage);
      EXPECT_TRUE(same);
      if (!same) return false;
      continue;
    }
    ++coverage.deltas;
    if (delta->chunks.size() > 1) ++coverage.multi_chunk_deltas;
    coverage.removals += static_cast<int>(delta->removals);
    if (last_sent->metadata != next->metadata) ++coverage.metadata_changes;
    applied = Apply(assembler, *delta, budget, coverage);
    EXPECT_TRUE(applied.ok()) << applied.status();
    if (!applied.ok()) return false;
    const ::testing::AssertionResult same = SameMirror(**applied, *want, HashCheck::kAll, coverage);
    EXPECT_TRUE(same);
    if (!same) return false;
    last_sent = snapshots[i];
  }
  return true;
}

// The property, over kSequences random sequences; then checks the sequences covered every kind
// of change, so a generator regression cannot turn this into a test that always passes.
TEST(DeltaPropertyTest, DeltasComposeToLatestSnapshot) {
  Coverage coverage;
  int failures = 0;
  for (int i = 0; i < kSequences && failures < 3; ++i) {
    if (!RunSequence(kFirstSeed + i, coverage)) ++failures;
  }
  EXPECT_EQ(failures, 0);
  EXPECT_GT(coverage.deltas, kSequences * 3);
  EXPECT_GT(coverage.null_deltas, 20);
  EXPECT_GT(coverage.multi_chunk_deltas, 20);
  EXPECT_GT(coverage.oversized_chunks, 5);
  EXPECT_GT(coverage.removals, 100);
  EXPECT_GT(coverage.types_added, 50);
  EXPECT_GT(coverage.types_removed, 50);
  EXPECT_GT(coverage.metadata_changes, 50);
  EXPECT_GT(coverage.reordered_rows_kept, 10);
  std::cout << "coverage: deltas=" << coverage.deltas << " null=" << coverage.null_deltas
            << " multi_chunk=" << coverage.multi_chunk_deltas
            << " oversized_chunks=" << coverage.oversized_chunks
            << " removals=" << coverage.removals << " types_added=" << coverage.types_added
            << " types_removed=" << coverage.types_removed
            << " metadata_changes=" << coverage.metadata_changes
            << " reordered_rows_kept=" << coverage.reordered_rows_kept << "\n";
}

}  // namespace
}  // namespace tether::client

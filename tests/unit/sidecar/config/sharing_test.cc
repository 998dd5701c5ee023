#include "sidecar/config/sharing.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/config_generator.h"
#include "gtest/gtest.h"
#include "protocol/constants.h"
#include "sidecar/config/decoder.h"
#include "sidecar/config/delta.h"

namespace tether::config {
namespace {

std::shared_ptr<Snapshot> Decode(absl::string_view config_table) {
  absl::StatusOr<std::string> frame = bench::MakeReconfigureFrame(config_table);
  EXPECT_TRUE(frame.ok()) << frame.status();
  if (!frame.ok()) return std::make_shared<Snapshot>();
  absl::StatusOr<DecodeResult> result =
      DecodeReconfigure(*frame, protocol::kEmptyConfigHash, DecodeLimits(), Source::kControlPlane,
                        absl::FromUnixSeconds(1718000000));
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return std::make_shared<Snapshot>();
  return result->snapshot;
}

size_t HeldTextBytes(const Snapshot& snapshot) {
  size_t bytes = 0;
  for (const TextBlock& block : snapshot.blocks()) bytes += block->size();
  return bytes;
}

// `shared` serves exactly what `alone` (the same config decoded on its own) serves: types, ids,
// row bytes, order, hashes, and an index that finds every row.
void ExpectSameConfig(const Snapshot& shared, const Snapshot& alone) {
  EXPECT_EQ(shared.config_hash, alone.config_hash);
  EXPECT_EQ(shared.hashes, alone.hashes);
  EXPECT_EQ(shared.metadata, alone.metadata);
  ASSERT_EQ(shared.types.size(), alone.types.size());
  for (const auto& [type, collection] : alone.types) {
    SCOPED_TRACE(type);
    ASSERT_EQ(shared.types.count(type), 1u);
    const EntityCollection& got = *shared.types.at(type);
    EXPECT_EQ(got.hash, collection->hash);
    ASSERT_EQ(got.items.size(), collection->items.size());
    EXPECT_EQ(got.IndexSize(), collection->IndexSize());
    for (size_t i = 0; i < got.items.size(); ++i) {
      EXPECT_EQ(got.items[i].id, collection->items[i].id);
      EXPECT_EQ(got.items[i].json, collection->items[i].json);
      EXPECT_EQ(got.Find(collection->items[i].id), &got.items[i]);
    }
  }
}

const bench::ConfigShape kShape = {.certificates = 2,
                                   .services = 20,
                                   .routes = 40,
                                   .consumers = 30,
                                   .keyauth_credentials = 30,
                                   .upstreams = 3,
                                   .targets = 6,
                                   .plugins = 10};

// One route changed: every other collection is taken over as it is, the routes are rebuilt with
// all but one row viewing the previous text, and the new snapshot's own text is let go, leaving
// only the changed row. Checked after the previous snapshot is gone, so that under ASan a view
// into freed text would fail.
TEST(SharingTest, OneChangedRowKeepsOnlyThatRow) {
  std::shared_ptr<Snapshot> previous = Decode(bench::GenerateConfigTable(kShape, 0));
  const std::string next_table = bench::GenerateConfigTable(kShape, 1);
  std::shared_ptr<Snapshot> next = Decode(next_table);
  const size_t decoded = next->decoded_bytes;
  // Decoded alone, a snapshot holds its rows and nothing else of the message.
  const size_t own_text = HeldTextBytes(*next);
  EXPECT_LT(own_text, decoded);

  const SharingStats stats = ShareWithPrevious(*next, *previous);
  EXPECT_EQ(stats.shared_collections, next->types.size() - 1);
  EXPECT_EQ(stats.shared_rows, kShape.routes - 1);
  EXPECT_GT(stats.copied_bytes, 0u);
  EXPECT_LT(stats.copied_bytes, 1000u);
  EXPECT_EQ(stats.released_bytes, own_text);
  EXPECT_NE(next->types.at("routes"), previous->types.at("routes"));
  EXPECT_EQ(next->types.at("services"), previous->types.at("services"));
  // What it adds: the changed row and the rebuilt routes' items and index.
  EXPECT_LT(next->added_bytes, decoded / 4);

  previous.reset();
  ExpectSameConfig(*next, *Decode(next_table));
}

// Deltas between shared snapshots are the deltas between the same configs decoded alone.
TEST(SharingTest, DeltasAreUnchanged) {
  std::vector<std::string> tables;
  std::vector<std::shared_ptr<Snapshot>> shared;
  for (uint64_t revision = 0; revision < 4; ++revision) {
    tables.push_back(bench::GenerateConfigTable(kShape, revision));
    shared.push_back(Decode(tables.back()));
    if (revision > 0) ShareWithPrevious(*shared.back(), *shared[revision - 1]);
  }
  for (size_t from = 0; from < tables.size(); ++from) {
    for (size_t to = 0; to < tables.size(); ++to) {
      SCOPED_TRACE(absl::StrCat(from, " -> ", to));
      const Delta got = ComputeDelta(*shared[from], *shared[to], TypeFilter());
      // The deltas view the snapshots, so these must outlive `want`.
      const std::shared_ptr<Snapshot> from_alone = Decode(tables[from]);
      const std::shared_ptr<Snapshot> to_alone = Decode(tables[to]);
      const Delta want = ComputeDelta(*from_alone, *to_alone, TypeFilter());
      ASSERT_EQ(got.upserts.size(), want.upserts.size());
      for (size_t i = 0; i < got.upserts.size(); ++i) {
        EXPECT_EQ(got.upserts[i].type, want.upserts[i].type);
        EXPECT_EQ(got.upserts[i].entity->id, want.upserts[i].entity->id);
        EXPECT_EQ(got.upserts[i].entity->json, want.upserts[i].entity->json);
      }
      ASSERT_EQ(got.removals.size(), want.removals.size());
      EXPECT_EQ(got.metadata_changed, want.metadata_changed);
      EXPECT_EQ(got.hashes_changed, want.hashes_changed);
    }
  }
}

// A long run of small changes does not pile up text: a block mostly replaced is copied out of
// and dropped, so what the newest snapshot holds stays within twice its rows' text.
TEST(SharingTest, TextStaysBoundedOverManyChanges) {
  std::shared_ptr<Snapshot> current = Decode(bench::GenerateConfigTable(kShape, 0));
  size_t row_bytes = 0;
  for (uint64_t revision = 1; revision <= 3 * kShape.routes; ++revision) {
    const std::string table = bench::GenerateConfigTable(kShape, revision);
    std::shared_ptr<Snapshot> next = Decode(table);
    ShareWithPrevious(*next, *current);
    current = std::move(next);
    if (revision % kShape.routes == 0) ExpectSameConfig(*current, *Decode(table));
  }
  for (const auto& [type, collection] : current->types) {
    for (const Entity& entity : collection->items) row_bytes += entity.json.size();
  }
  EXPECT_LE(HeldTextBytes(*current), 2 * row_bytes);
}

// A config that shares nothing with the previous one holds none of the old text.
TEST(SharingTest, UnrelatedConfigKeepsItsOwnText) {
  std::shared_ptr<Snapshot> previous =
      Decode(R"({"services":[{"id":"s1","port":80}],"routes":[{"id":"r1","paths":["/a"]}]})");
  const std::string other =
      R"({"services":[{"id":"s2","port":81}],"consumers":[{"id":"c1","username":"u"}]})";
  std::shared_ptr<Snapshot> next = Decode(other);
  const SharingStats stats = ShareWithPrevious(*next, *previous);
  EXPECT_EQ(stats.shared_collections, 0u);
  EXPECT_EQ(stats.shared_rows, 0u);
  for (const TextBlock& block : previous->blocks()) {
    EXPECT_EQ(std::count(next->blocks().begin(), next->blocks().end(), block), 0);
  }
  // Its text is its own rows, which stay where they are.
  EXPECT_EQ(stats.released_bytes, 0u);
  EXPECT_EQ(stats.copied_bytes, 0u);
  size_t row_bytes = 0;
  for (const auto& [type, collection] : next->types) {
    for (const Entity& entity : collection->items) row_bytes += entity.json.size();
  }
  EXPECT_EQ(HeldTextBytes(*next), row_bytes);
  previous.reset();
  ExpectSameConfig(*next, *Decode(other));
}

}  // namespace
}  // namespace tether::config

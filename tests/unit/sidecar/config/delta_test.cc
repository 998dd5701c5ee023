#include "sidecar/config/delta.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/constants.h"
#include "protocol/gzip.h"
#include "sidecar/config/decoder.h"

namespace tether::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A snapshot decoded from `config_table` (JSON text) exactly as the sidecar would decode it from
// a Kong 2.x-style message without config_hash (so every hash is computed).
SnapshotPtr Decode(absl::string_view config_table) {
  const std::string message =
      absl::StrCat(R"({"type":"reconfigure","config_table":)", config_table, "}");
  absl::StatusOr<DecodeResult> result =
      DecodeReconfigure(protocol::Gzip(message), protocol::kEmptyConfigHash, DecodeLimits(),
                        Source::kControlPlane, absl::FromUnixSeconds(1718000000));
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return std::make_shared<Snapshot>();
  EXPECT_EQ(result->kind, DecodeResult::Kind::kNewSnapshot);
  return result->snapshot;
}

// "type/id" of each upsert, in order.
std::vector<std::string> Upserts(const Delta& delta) {
  std::vector<std::string> out;
  for (const EntityChange& change : delta.upserts) {
    out.push_back(absl::StrCat(change.type, "/", change.entity->id));
  }
  return out;
}

std::vector<std::string> Removals(const Delta& delta) {
  std::vector<std::string> out;
  for (const EntityRemoval& removal : delta.removals) {
    out.push_back(absl::StrCat(removal.type, "/", removal.id));
  }
  return out;
}

constexpr absl::string_view kBase = R"({
  "_format_version": "3.0",
  "services": [{"id": "s1", "name": "a", "port": 80}, {"id": "s2", "name": "b", "port": 81}],
  "routes": [{"id": "r1", "paths": ["/a"], "service": "s1"}]
})";

// The same config twice is no change at all.
TEST(DeltaTest, IdenticalSnapshotsAreEmpty) {
  const SnapshotPtr from = Decode(kBase);
  const SnapshotPtr to = Decode(kBase);
  const Delta delta = ComputeDelta(*from, *to, TypeFilter());
  EXPECT_TRUE(delta.empty());
  EXPECT_THAT(delta.upserts, IsEmpty());
  EXPECT_THAT(delta.removals, IsEmpty());
}

// A row whose content changed is an upsert pointing at the target's entity; others are not.
TEST(DeltaTest, ChangedRowIsUpserted) {
  const SnapshotPtr from = Decode(kBase);
  const SnapshotPtr to = Decode(R"({
    "_format_version": "3.0",
    "services": [{"id": "s1", "name": "a", "port": 80}, {"id": "s2", "name": "b", "port": 82}],
    "routes": [{"id": "r1", "paths": ["/a"], "service": "s1"}]
  })");
  const Delta delta = ComputeDelta(*from, *to, TypeFilter());
  EXPECT_THAT(Upserts(delta), ElementsAre("services/s2"));
  EXPECT_THAT(delta.removals, IsEmpty());
  EXPECT_FALSE(delta.metadata_changed);
  EXPECT_FALSE(delta.types_changed);
  ASSERT_EQ(delta.upserts.size(), 1u);
  EXPECT_EQ(delta.upserts[0].entity, to->Find("services", "s2"));
  EXPECT_FALSE(delta.empty());
}

// The CP re-sending a row with its keys in another order is not a change.
TEST(DeltaTest, ReorderedKeysAreNotAChange) {
  const SnapshotPtr from = Decode(kBase);
  const SnapshotPtr to = Decode(R"({
    "_format_version": "3.0",
    "services": [{"port": 80, "name": "a", "id": "s1"}, {"id": "s2", "port": 81, "name": "b"}],
    "routes": [{"service": "s1", "id": "r1", "paths": ["/a"]}]
  })");
  ASSERT_NE(from->Find("services", "s1")->json, to->Find("services", "s1")->json);
  const Delta delta = ComputeDelta(*from, *to, TypeFilter());
  EXPECT_TRUE(delta.empty());
}

// Rows are served as the CP wrote them, so the same row may come with other whitespace or number
// spellings: those are not changes, but a change of value Kong would see (-0 to 0) is.
TEST(DeltaTest, ComparesRowsByValueAsKongReadsThem) {
  const SnapshotPtr from = Decode(R"({"services": [{"id": "s1", "port": 80, "w": -0, "f": 0.5}]})");
  const SnapshotPtr same = Decode(R"({"services": [ {"id":"s1","port":80.0,"w":-0.0,"f":5e-1} ]})");
  const SnapshotPtr zero = Decode(R"({"services": [{"id": "s1", "port": 80, "w": 0, "f": 0.5}]})");
  ASSERT_NE(from->Find("services", "s1")->json, same->Find("services", "s1")->json);
  EXPECT_TRUE(ComputeDelta(*from, *same, TypeFilter()).upserts.empty());
  const Delta delta = ComputeDelta(*from, *zero, TypeFilter());
  ASSERT_EQ(delta.upserts.size(), 1u);
  EXPECT_EQ(delta.upserts[0].entity->id, "s1");
}

// A row gone from the target is a removal by (type, id).
TEST(DeltaTest, RemovedRowIsRemoval) {
  const SnapshotPtr from = Decode(kBase);
  const SnapshotPtr to = Decode(R"({
    "_format_version": "3.0",
    "services": [{"id": "s1", "name": "a", "port": 80}],
    "routes": [{"id": "r1", "paths": ["/a"], "service": "s1"}]
  })");
  const Delta delta = ComputeDelta(*from, *to, TypeFilter());
  EXPECT_THAT(delta.upserts, IsEmpty());
  EXPECT_THAT(Removals(delta), ElementsAre("services/s2"));
  EXPECT_FALSE(delta.types_changed);
}

// A type missing from the target removes each of its rows and marks the type set changed.
TEST(DeltaTest, TypeRemovedEntirely) {
  const SnapshotPtr from = Decode(kBase);
  const SnapshotPtr to = Decode(R"({
    "_format_version": "3.0",
    "routes": [{"id": "r1", "paths": ["/a"], "service": "s1"}]
  })");
  const Delta delta = ComputeDelta(*from, *to, TypeFilter());
  EXPECT_THAT(delta.upserts, IsEmpty());
  EXPECT_THAT(Removals(delta), ElementsAre("services/s1", "services/s2"));
  EXPECT_TRUE(delta.types_changed);
}

// A new type upserts every row, in the CP's order, and marks the type set changed.
TEST(DeltaTest, TypeAdded) {
  const SnapshotPtr from = Decode(kBase);
  const SnapshotPtr to = Decode(R"({
    "_format_version": "3.0",
    "services": [{"id": "s1", "name": "a", "port": 80}, {"id": "s2", "name": "b", "port": 81}],
    "routes": [{"id": "r1", "paths": ["/a"], "service": "s1"}],
    "consumers": [{"id": "c2", "username": "bob"}, {"id": "c1", "username": "alice"}]
  })");
  const Delta delta = ComputeDelta(*from, *to, TypeFilter());
  EXPECT_THAT(Upserts(delta), ElementsAre("consumers/c2", "consumers/c1"));
  EXPECT_THAT(delta.removals, IsEmpty());
  EXPECT_TRUE(delta.types_changed);
}

// An empty collection appearing or vanishing has no rows to send, but is still a change: the
// subscriber's entity_types must follow it.
TEST(DeltaTest, EmptyTypeAppearingIsAChange) {
  const SnapshotPtr from = Decode(kBase);
  const SnapshotPtr to = Decode(R"({
    "_format_version": "3.0",
    "services": [{"id": "s1", "name": "a", "port": 80}, {"id": "s2", "name": "b", "port": 81}],
    "routes": [{"id": "r1", "paths": ["/a"], "service": "s1"}],
    "consumers": []
  })");
  const Delta added = ComputeDelta(*from, *to, TypeFilter());
  EXPECT_THAT(added.upserts, IsEmpty());
  EXPECT_TRUE(added.types_changed);
  EXPECT_FALSE(added.empty());
  const Delta removed = ComputeDelta(*to, *from, TypeFilter());
  EXPECT_THAT(removed.removals, IsEmpty());
  EXPECT_FALSE(removed.empty());
  // A subscriber to routes alone has nothing to learn from it.
  EXPECT_TRUE(ComputeDelta(*from, *to, TypeFilter({"routes"})).empty());
}

// The filter restricts upserts, removals and the type set to the subscribed types.
TEST(DeltaTest, FilterRestricts) {
  const SnapshotPtr from = Decode(kBase);
  const SnapshotPtr to = Decode(R"({
    "_format_version": "3.0",
    "services": [{"id": "s1", "name": "a", "port": 90}],
    "routes": [{"id": "r1", "paths": ["/b"], "service": "s1"}],
    "consumers": [{"id": "c1", "username": "alice"}]
  })");
  const Delta routes = ComputeDelta(*from, *to, TypeFilter({"routes"}));
  EXPECT_THAT(Upserts(routes), ElementsAre("routes/r1"));
  EXPECT_THAT(routes.removals, IsEmpty());
  EXPECT_FALSE(routes.types_changed);

  const Delta services = ComputeDelta(*from, *to, TypeFilter({"services", "consumers"}));
  EXPECT_THAT(Upserts(services), ElementsAre("consumers/c1", "services/s1"));
  EXPECT_THAT(Removals(services), ElementsAre("services/s2"));
  EXPECT_TRUE(services.types_changed);

  // Nothing a consumers-only subscriber sees changed between `from` and a routes-only change.
  const SnapshotPtr routes_only = Decode(R"({
    "_format_version": "3.0",
    "services": [{"id": "s1", "name": "a", "port": 80}, {"id": "s2", "name": "b", "port": 81}],
    "routes": [{"id": "r1", "paths": ["/z"], "service": "s1"}]
  })");
  EXPECT_TRUE(ComputeDelta(*from, *routes_only, TypeFilter({"consumers"})).empty());
  EXPECT_FALSE(ComputeDelta(*from, *routes_only, TypeFilter()).empty());
}

// Metadata (top-level `_` keys) changes are flagged for every filter; equal metadata is not.
TEST(DeltaTest, MetadataChange) {
  const SnapshotPtr from = Decode(kBase);
  const SnapshotPtr changed = Decode(R"({
    "_format_version": "3.1",
    "services": [{"id": "s1", "name": "a", "port": 80}, {"id": "s2", "name": "b", "port": 81}],
    "routes": [{"id": "r1", "paths": ["/a"], "service": "s1"}]
  })");
  const Delta delta = ComputeDelta(*from, *changed, TypeFilter({"routes"}));
  EXPECT_TRUE(delta.metadata_changed);
  EXPECT_THAT(delta.upserts, IsEmpty());
  EXPECT_FALSE(delta.empty());

  // A key that the target lacks is a change too.
  const SnapshotPtr dropped = Decode(R"({
    "services": [{"id": "s1", "name": "a", "port": 80}, {"id": "s2", "name": "b", "port": 81}],
    "routes": [{"id": "r1", "paths": ["/a"], "service": "s1"}]
  })");
  EXPECT_TRUE(ComputeDelta(*from, *dropped, TypeFilter()).metadata_changed);
  EXPECT_TRUE(ComputeDelta(*dropped, *from, TypeFilter()).metadata_changed);
  EXPECT_FALSE(ComputeDelta(*from, *Decode(kBase), TypeFilter()).metadata_changed);
}

// TypeFilter: empty matches everything; Key is stable for equal filters whatever the order.
TEST(TypeFilterTest, MatchesAndKey) {
  const TypeFilter all;
  EXPECT_TRUE(all.all());
  EXPECT_TRUE(all.Matches("routes"));
  EXPECT_EQ(all.Key(), "*");

  const TypeFilter some({"services", "routes"});
  EXPECT_FALSE(some.all());
  EXPECT_TRUE(some.Matches("routes"));
  EXPECT_FALSE(some.Matches("consumers"));
  EXPECT_EQ(some.Key(), "routes,services");
  EXPECT_EQ(TypeFilter({"routes", "services"}).Key(), some.Key());
}

// KeyWithin keeps only the types the snapshots hold (entity types or section hashes), so filters
// that select the same share a key; "-" when none is held.
TEST(TypeFilterTest, KeyWithinDropsTypesTheSnapshotsDoNotHold) {
  const SnapshotPtr from = Decode(kBase);
  ASSERT_TRUE(from);
  ASSERT_NE(from->types.find("routes"), from->types.end());
  EXPECT_EQ(TypeFilter().KeyWithin({from.get()}), "*");
  EXPECT_EQ(TypeFilter({"routes", "junk1"}).KeyWithin({from.get()}), "routes");
  EXPECT_EQ(TypeFilter({"junk2", "routes"}).KeyWithin({from.get()}), "routes");
  EXPECT_EQ(TypeFilter({"junk1"}).KeyWithin({from.get()}), "-");
  EXPECT_EQ(TypeFilter({"config"}).KeyWithin({from.get()}), "-");
  const SnapshotPtr other = Decode(R"({"_format_version":"3.0","vaults":[]})");
  ASSERT_TRUE(other);
  EXPECT_EQ(TypeFilter({"vaults", "junk"}).KeyWithin({from.get()}), "-");
  EXPECT_EQ(TypeFilter({"vaults", "junk"}).KeyWithin({from.get(), other.get()}), "vaults");
}

}  // namespace
}  // namespace tether::config

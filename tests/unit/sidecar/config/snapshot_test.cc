#include "sidecar/config/snapshot.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tether::config {
namespace {

// Collections are immutable once in a snapshot, so each is built whole before it is added.
void AddCollection(Snapshot& snapshot, const std::string& type,
                   const std::vector<std::string>& ids) {
  auto collection = std::make_shared<EntityCollection>();
  for (const std::string& id : ids) {
    const absl::string_view kept_id = snapshot.Keep(id);
    collection->items.push_back(Entity{kept_id, snapshot.Keep("{\"id\":\"" + id + "\"}")});
  }
  EXPECT_FALSE(collection->BuildIndex().has_value());
  snapshot.types[type] = std::move(collection);
}

// Find goes through the index to the entity; unknown ids and types give null.
TEST(SnapshotTest, FindsEntitiesByTypeAndId) {
  Snapshot snapshot;
  AddCollection(snapshot, "routes", {"r1", "r2"});
  AddCollection(snapshot, "services", {"s1"});
  const Entity* r2 = snapshot.Find("routes", "r2");
  ASSERT_NE(r2, nullptr);
  EXPECT_EQ(r2->id, "r2");
  EXPECT_EQ(r2->json, "{\"id\":\"r2\"}");
  EXPECT_EQ(r2, snapshot.types.at("routes")->Find("r2"));
  EXPECT_EQ(snapshot.Find("routes", "s1"), nullptr);
  EXPECT_EQ(snapshot.Find("plugins", "r1"), nullptr);
}

// EntityCount sums every collection, empty ones included.
TEST(SnapshotTest, CountsEntitiesOfAllTypes) {
  Snapshot snapshot;
  EXPECT_EQ(snapshot.EntityCount(), 0u);
  AddCollection(snapshot, "routes", {"r1"});
  AddCollection(snapshot, "services", {"s1", "s2"});
  AddCollection(snapshot, "consumers", {});
  EXPECT_EQ(snapshot.EntityCount(), 3u);
}

// Views from Keep stay valid while more text is kept, short (in-place) strings included: entities
// point into them for the snapshot's whole life.
TEST(SnapshotTest, KeptTextDoesNotMove) {
  Snapshot snapshot;
  std::vector<absl::string_view> views;
  for (int i = 0; i < 1000; ++i) {
    views.push_back(
        snapshot.Keep(i % 2 == 0 ? std::to_string(i) : absl::StrCat(i, std::string(100, 'x'))));
  }
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(views[i], i % 2 == 0 ? std::to_string(i) : absl::StrCat(i, std::string(100, 'x')));
  }
}

}  // namespace
}  // namespace tether::config

#include "sidecar/config/snapshot.h"

#include <string>

#include "gtest/gtest.h"

namespace tether::config {
namespace {

void Add(EntityCollection& collection, const std::string& id) {
  collection.index.emplace(id, collection.items.size());
  collection.items.push_back(Entity{id, "{\"id\":\"" + id + "\"}"});
}

// Find goes through the index to the entity; unknown ids and types give null.
TEST(SnapshotTest, FindsEntitiesByTypeAndId) {
  Snapshot snapshot;
  Add(snapshot.types["routes"], "r1");
  Add(snapshot.types["routes"], "r2");
  Add(snapshot.types["services"], "s1");
  const Entity* r2 = snapshot.Find("routes", "r2");
  ASSERT_NE(r2, nullptr);
  EXPECT_EQ(r2->id, "r2");
  EXPECT_EQ(r2, snapshot.types.at("routes").Find("r2"));
  EXPECT_EQ(snapshot.Find("routes", "s1"), nullptr);
  EXPECT_EQ(snapshot.Find("plugins", "r1"), nullptr);
}

// EntityCount sums every collection, empty ones included.
TEST(SnapshotTest, CountsEntitiesOfAllTypes) {
  Snapshot snapshot;
  EXPECT_EQ(snapshot.EntityCount(), 0u);
  Add(snapshot.types["routes"], "r1");
  Add(snapshot.types["services"], "s1");
  Add(snapshot.types["services"], "s2");
  snapshot.types["consumers"];
  EXPECT_EQ(snapshot.EntityCount(), 3u);
}

}  // namespace
}  // namespace tether::config

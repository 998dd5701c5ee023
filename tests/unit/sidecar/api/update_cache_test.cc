// UpdateCache: sharing between subscribers with the same needs, filters keyed by what they
// select, the byte budget and one-shot updates that are shared only while held.
#include "sidecar/api/update_cache.h"

#include "gtest/gtest.h"
#include "tests/unit/sidecar/api/snapshots.h"

namespace tether::api {
namespace {

using testing::Decode;
using testing::Row;

config::TypeFilter Types(std::set<std::string, std::less<>> types) {
  return config::TypeFilter(std::move(types));
}

class UpdateCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1_ = Decode(absl::StrCat(R"({"routes":[)", Row("r1", "a"), "],", R"("consumers":[)",
                              Row("c1", "a"), "]}"));
    consumers_changed_ = Decode(absl::StrCat(R"({"routes":[)", Row("r1", "a"), "],",
                                             R"("consumers":[)", Row("c1", "b"), "]}"));
    routes_changed_ = Decode(absl::StrCat(R"({"routes":[)", Row("r1", "b"), "],",
                                          R"("consumers":[)", Row("c1", "b"), "]}"));
    ASSERT_TRUE(v1_ && consumers_changed_ && routes_changed_);
  }

  config::SnapshotPtr v1_, consumers_changed_, routes_changed_;
  UpdateCache cache_;
};

// Subscribers with the same needs share one built update: the second ask is a hit and returns
// the very same object (same bytes, no copy).
TEST_F(UpdateCacheTest, SameNeedsShareOneUpdate) {
  UpdatePtr a = cache_.Get(nullptr, v1_, Types({"routes"}), UpdateMode::kFull);
  UpdatePtr b = cache_.Get(nullptr, v1_, Types({"routes"}), UpdateMode::kDelta);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b);  // a first update is full in either mode
  EXPECT_EQ(cache_.stats().full_builds, 1u);
  EXPECT_EQ(cache_.stats().hits, 1u);
  UpdatePtr all = cache_.Get(nullptr, v1_, config::TypeFilter(), UpdateMode::kFull);
  EXPECT_NE(all, a);
  EXPECT_EQ(cache_.stats().full_builds, 2u);

  UpdatePtr d1 = cache_.Get(v1_, routes_changed_, Types({"routes"}), UpdateMode::kDelta);
  UpdatePtr d2 = cache_.Get(v1_, routes_changed_, Types({"routes"}), UpdateMode::kDelta);
  ASSERT_NE(d1, nullptr);
  EXPECT_EQ(d1, d2);
  EXPECT_FALSE(d1->full);
  EXPECT_EQ(d1->base_hash, v1_->config_hash);
  EXPECT_EQ(cache_.stats().delta_builds, 1u);
}

// Nothing the filter covers changed: null in both modes, so the subscriber is not woken; the
// verdict is cached too.
TEST_F(UpdateCacheTest, UnchangedTypesGiveNull) {
  EXPECT_EQ(cache_.Get(v1_, consumers_changed_, Types({"routes"}), UpdateMode::kDelta), nullptr);
  EXPECT_EQ(cache_.Get(v1_, consumers_changed_, Types({"routes"}), UpdateMode::kFull), nullptr);
  EXPECT_EQ(cache_.Get(v1_, consumers_changed_, Types({"routes"}), UpdateMode::kFull), nullptr);
  EXPECT_EQ(cache_.stats().change_checks, 1u);
  UpdatePtr full = cache_.Get(v1_, routes_changed_, Types({"routes"}), UpdateMode::kFull);
  ASSERT_NE(full, nullptr);
  EXPECT_TRUE(full->full);
  EXPECT_EQ(full->config_hash, routes_changed_->config_hash);
  // Every type changed for an unfiltered subscriber.
  EXPECT_NE(cache_.Get(v1_, consumers_changed_, config::TypeFilter(), UpdateMode::kFull), nullptr);
}

// Retain keeps only entries for the given target, so the cache holds one snapshot's worth.
TEST_F(UpdateCacheTest, RetainDropsOtherTargets) {
  cache_.Get(nullptr, v1_, config::TypeFilter(), UpdateMode::kFull);
  cache_.Get(v1_, routes_changed_, config::TypeFilter(), UpdateMode::kDelta);
  cache_.Get(v1_, routes_changed_, Types({"routes"}), UpdateMode::kFull);
  EXPECT_EQ(cache_.size(), 4u);  // full v1, delta, change verdict, full routes_changed
  cache_.Retain(routes_changed_->config_hash);
  EXPECT_EQ(cache_.size(), 3u);
  cache_.Retain("none");
  EXPECT_EQ(cache_.size(), 0u);
}

// Filters that differ only in types the config does not hold select the same bytes and share one
// entry, so made-up type names cannot make the cache build and keep a copy each.
TEST_F(UpdateCacheTest, FiltersShareTheEntryOfWhatTheySelect) {
  UpdatePtr a = cache_.Get(nullptr, v1_, Types({"routes", "junk1"}), UpdateMode::kFull);
  UpdatePtr b = cache_.Get(nullptr, v1_, Types({"junk2", "routes"}), UpdateMode::kFull);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, cache_.Get(nullptr, v1_, Types({"routes"}), UpdateMode::kFull));
  EXPECT_EQ(cache_.stats().full_builds, 1u);

  // Naming no type the config holds selects nothing: one entry for every such filter.
  UpdatePtr none = cache_.Get(nullptr, v1_, Types({"junk1"}), UpdateMode::kFull);
  EXPECT_EQ(none, cache_.Get(nullptr, v1_, Types({"junk2", "junk3"}), UpdateMode::kFull));
  EXPECT_EQ(cache_.stats().full_builds, 2u);
  absl::StatusOr<std::vector<v1::WatchResponse>> chunks = ParseUpdate(*none);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  EXPECT_EQ(chunks->front().entity_types_size(), 0);
  EXPECT_EQ(chunks->front().upserts_size(), 0);

  // A delta also sees the base's types: still one entry for both spellings.
  UpdatePtr d1 = cache_.Get(v1_, routes_changed_, Types({"routes", "junk1"}), UpdateMode::kDelta);
  UpdatePtr d2 = cache_.Get(v1_, routes_changed_, Types({"routes", "junk2"}), UpdateMode::kDelta);
  EXPECT_EQ(d1, d2);
  EXPECT_EQ(cache_.stats().delta_builds, 1u);
  EXPECT_EQ(cache_.stats().entries, 3u);
}

// Kept updates stay within the byte budget: the least recently used go first, counted, and an
// update bigger than the whole budget is not kept at all.
TEST(UpdateCacheBudgetTest, KeepsTheMostRecentlyUsedWithinTheBudget) {
  const config::SnapshotPtr v1 = Decode(
      absl::StrCat(R"({"routes":[)", Row("r1", "a", 10000), "],", R"("consumers":[)",
                   Row("c1", "a", 10000), "],", R"("services":[)", Row("s1", "a", 10000), "]}"));
  ASSERT_TRUE(v1);
  const size_t one = BuildFullUpdate(v1, Types({"routes"}))->chunks.held_bytes();
  const size_t budget = 2 * one + one / 2;  // two one-type updates fit, not three
  UpdateCache cache(kDefaultMaxChunkBytes, budget);

  UpdatePtr routes = cache.Get(nullptr, v1, Types({"routes"}), UpdateMode::kFull);
  cache.Get(nullptr, v1, Types({"consumers"}), UpdateMode::kFull);
  cache.Get(nullptr, v1, Types({"routes"}), UpdateMode::kFull);  // routes is now the newer
  EXPECT_EQ(cache.stats().evictions, 0u);
  cache.Get(nullptr, v1, Types({"services"}), UpdateMode::kFull);
  UpdateCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.evictions, 1u);  // consumers
  EXPECT_EQ(stats.entries, 2u);
  EXPECT_LE(stats.bytes, budget);
  EXPECT_EQ(cache.Get(nullptr, v1, Types({"routes"}), UpdateMode::kFull), routes);
  EXPECT_EQ(cache.stats().full_builds, 3u);

  cache.Get(nullptr, v1, config::TypeFilter(), UpdateMode::kFull);  // three types: too big
  stats = cache.stats();
  EXPECT_EQ(stats.evictions, 4u);
  EXPECT_EQ(stats.entries, 0u);
  EXPECT_EQ(stats.bytes, 0u);
}

// A one-shot update is not kept: shared with an identical request while it is held, rebuilt
// once nobody holds it.
TEST_F(UpdateCacheTest, OneShotUpdatesAreSharedOnlyWhileHeld) {
  constexpr UpdateCache::Keep kShare = UpdateCache::Keep::kShare;
  UpdatePtr a = cache_.Get(nullptr, v1_, Types({"routes"}), UpdateMode::kFull, kShare);
  EXPECT_EQ(cache_.stats().entries, 0u);
  EXPECT_EQ(cache_.stats().bytes, 0u);
  EXPECT_EQ(cache_.Get(nullptr, v1_, Types({"routes", "junk"}), UpdateMode::kFull, kShare), a);
  EXPECT_EQ(cache_.stats().full_builds, 1u);
  a.reset();
  cache_.Get(nullptr, v1_, Types({"routes"}), UpdateMode::kFull, kShare);
  EXPECT_EQ(cache_.stats().full_builds, 2u);
  EXPECT_EQ(cache_.stats().entries, 0u);
}

}  // namespace
}  // namespace tether::api

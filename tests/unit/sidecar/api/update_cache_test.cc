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
  UpdatePtr a = cache_.Get(nullptr, *v1_, Types({"routes"}), UpdateMode::kFull);
  UpdatePtr b = cache_.Get(nullptr, *v1_, Types({"routes"}), UpdateMode::kDelta);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b);  // a first update is full in either mode
  EXPECT_EQ(cache_.stats().full_builds, 1u);
  EXPECT_EQ(cache_.stats().hits, 1u);
  UpdatePtr all = cache_.Get(nullptr, *v1_, config::TypeFilter(), UpdateMode::kFull);
  EXPECT_NE(all, a);
  EXPECT_EQ(cache_.stats().full_builds, 2u);

  UpdatePtr d1 = cache_.Get(v1_, *routes_changed_, Types({"routes"}), UpdateMode::kDelta);
  UpdatePtr d2 = cache_.Get(v1_, *routes_changed_, Types({"routes"}), UpdateMode::kDelta);
  ASSERT_NE(d1, nullptr);
  EXPECT_EQ(d1, d2);
  EXPECT_FALSE(d1->full);
  EXPECT_EQ(d1->base_hash, v1_->config_hash);
  EXPECT_EQ(cache_.stats().delta_builds, 1u);
}

// Nothing the filter covers changed: null in both modes, so the subscriber is not woken; the
// verdict is cached too.
TEST_F(UpdateCacheTest, UnchangedTypesGiveNull) {
  EXPECT_EQ(cache_.Get(v1_, *consumers_changed_, Types({"routes"}), UpdateMode::kDelta), nullptr);
  EXPECT_EQ(cache_.Get(v1_, *consumers_changed_, Types({"routes"}), UpdateMode::kFull), nullptr);
  EXPECT_EQ(cache_.Get(v1_, *consumers_changed_, Types({"routes"}), UpdateMode::kFull), nullptr);
  EXPECT_EQ(cache_.stats().change_checks, 1u);
  UpdatePtr full = cache_.Get(v1_, *routes_changed_, Types({"routes"}), UpdateMode::kFull);
  ASSERT_NE(full, nullptr);
  EXPECT_TRUE(full->full);
  EXPECT_EQ(full->config_hash, routes_changed_->config_hash);
  // Every type changed for an unfiltered subscriber.
  EXPECT_NE(cache_.Get(v1_, *consumers_changed_, config::TypeFilter(), UpdateMode::kFull), nullptr);
}

// Retain keeps only entries for the given target, so the cache holds one snapshot's worth.
TEST_F(UpdateCacheTest, RetainDropsOtherTargets) {
  cache_.Get(nullptr, *v1_, config::TypeFilter(), UpdateMode::kFull);
  cache_.Get(v1_, *routes_changed_, config::TypeFilter(), UpdateMode::kDelta);
  cache_.Get(v1_, *routes_changed_, Types({"routes"}), UpdateMode::kFull);
  EXPECT_EQ(cache_.size(), 4u);  // full v1, delta, change verdict, full routes_changed
  cache_.Retain(routes_changed_->config_hash);
  EXPECT_EQ(cache_.size(), 3u);
  cache_.Retain("none");
  EXPECT_EQ(cache_.size(), 0u);
}

}  // namespace
}  // namespace tether::api

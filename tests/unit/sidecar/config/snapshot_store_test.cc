#include "sidecar/config/snapshot_store.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/constants.h"

namespace tether::config {
namespace {

using ::testing::ElementsAre;

SnapshotPtr MakeSnapshot(int n) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->config_hash = absl::StrFormat("%032x", n);
  return snapshot;
}

// Before the first Publish there is no snapshot and the hash is Kong's empty hash.
TEST(SnapshotStoreTest, EmptyUntilPublished) {
  SnapshotStore store;
  EXPECT_EQ(store.Current(), nullptr);
  EXPECT_EQ(store.CurrentHash(), protocol::kEmptyConfigHash);
}

// Publish makes the snapshot current; a later one replaces it.
TEST(SnapshotStoreTest, PublishReplacesCurrent) {
  SnapshotStore store;
  const SnapshotPtr first = MakeSnapshot(1);
  store.Publish(first);
  EXPECT_EQ(store.Current(), first);
  EXPECT_EQ(store.CurrentHash(), first->config_hash);
  const SnapshotPtr second = MakeSnapshot(2);
  store.Publish(second);
  EXPECT_EQ(store.Current(), second);
  EXPECT_EQ(store.CurrentHash(), second->config_hash);
}

// Observers run in registration order, with the published snapshot, once per Publish.
TEST(SnapshotStoreTest, NotifiesObserversInOrder) {
  SnapshotStore store;
  std::vector<std::string> calls;
  auto a = store.AddObserver([&](const SnapshotPtr& s) { calls.push_back("a:" + s->config_hash); });
  auto b = store.AddObserver([&](const SnapshotPtr& s) { calls.push_back("b:" + s->config_hash); });
  const SnapshotPtr snapshot = MakeSnapshot(7);
  store.Publish(snapshot);
  EXPECT_THAT(calls, ElementsAre("a:" + snapshot->config_hash, "b:" + snapshot->config_hash));
}

// An observer runs outside the lock: it may read the store, and sees the new snapshot.
TEST(SnapshotStoreTest, ObserverMayReadStore) {
  SnapshotStore store;
  SnapshotPtr seen;
  auto handle = store.AddObserver([&](const SnapshotPtr&) { seen = store.Current(); });
  const SnapshotPtr snapshot = MakeSnapshot(3);
  store.Publish(snapshot);
  EXPECT_EQ(seen, snapshot);
}

// Find returns the current snapshot and the ones published before it, up to the history limit.
TEST(SnapshotStoreTest, FindsCurrentAndRecentSnapshots) {
  SnapshotStore store(/*history=*/3);
  std::vector<SnapshotPtr> published;
  for (int i = 1; i <= 4; ++i) {
    published.push_back(MakeSnapshot(i));
    store.Publish(published.back());
  }
  for (const SnapshotPtr& snapshot : published) {
    SCOPED_TRACE(snapshot->config_hash);
    EXPECT_EQ(store.Find(snapshot->config_hash), snapshot);
  }
}

// The oldest snapshot beyond the history limit is dropped, and the store lets go of it.
TEST(SnapshotStoreTest, DropsSnapshotsBeyondHistory) {
  SnapshotStore store(/*history=*/2);
  SnapshotPtr first = MakeSnapshot(1);
  const std::weak_ptr<const Snapshot> first_weak = first;
  const std::string first_hash = first->config_hash;
  store.Publish(std::move(first));
  for (int i = 2; i <= 4; ++i) store.Publish(MakeSnapshot(i));
  EXPECT_EQ(store.Find(first_hash), nullptr);
  EXPECT_TRUE(first_weak.expired());
  EXPECT_NE(store.Find(MakeSnapshot(2)->config_hash), nullptr);
  EXPECT_EQ(store.Find(MakeSnapshot(4)->config_hash), store.Current());
}

// The history also stops at its byte budget (what the snapshots it holds added, the current one
// not counted): big configs push the oldest out early, and one bigger than the budget is
// not kept at all once replaced.
TEST(SnapshotStoreTest, DropsSnapshotsBeyondHistoryBytes) {
  SnapshotStore store(/*history=*/16, /*history_bytes=*/250);
  auto sized = [](int n, size_t bytes) {
    auto snapshot = std::make_shared<Snapshot>();
    snapshot->config_hash = absl::StrFormat("%032x", n);
    snapshot->added_bytes = bytes;
    return snapshot;
  };
  const auto held = [&store](int n) { return store.Find(absl::StrFormat("%032x", n)) != nullptr; };
  store.Publish(sized(1, 100));
  store.Publish(sized(2, 100));
  store.Publish(sized(3, 100));
  EXPECT_TRUE(held(1) && held(2) && held(3));  // history: 1, 2 = 200 bytes
  store.Publish(sized(4, 300));
  EXPECT_FALSE(held(1));  // history: 2, 3 = 200
  EXPECT_TRUE(held(2) && held(3) && held(4));
  store.Publish(sized(5, 10));
  EXPECT_FALSE(held(2) || held(3) || held(4));  // 4 alone is over the budget
  EXPECT_TRUE(held(5));
  store.Publish(sized(6, 10));
  EXPECT_TRUE(held(5) && held(6));
}

// With no history only the current snapshot is found; unknown hashes and an empty store find
// nothing.
TEST(SnapshotStoreTest, FindWithoutHistory) {
  SnapshotStore store(/*history=*/0);
  EXPECT_EQ(store.Find(protocol::kEmptyConfigHash), nullptr);
  store.Publish(MakeSnapshot(1));
  const SnapshotPtr second = MakeSnapshot(2);
  store.Publish(second);
  EXPECT_EQ(store.Find(second->config_hash), second);
  EXPECT_EQ(store.Find(MakeSnapshot(1)->config_hash), nullptr);
  EXPECT_EQ(store.Find(MakeSnapshot(9)->config_hash), nullptr);
}

// When a hash comes back (a CP rollback), Find returns the newest snapshot with it.
TEST(SnapshotStoreTest, FindReturnsNewestWithHash) {
  SnapshotStore store;
  const SnapshotPtr old_copy = MakeSnapshot(1);
  store.Publish(old_copy);
  store.Publish(MakeSnapshot(2));
  const SnapshotPtr new_copy = MakeSnapshot(1);
  store.Publish(new_copy);
  store.Publish(MakeSnapshot(3));
  EXPECT_EQ(store.Find(new_copy->config_hash), new_copy);
}

// Readers on other threads always see a whole published snapshot, and never an older one than
// they saw before (one publisher).
TEST(SnapshotStoreTest, ReadersSeeOrderedSnapshots) {
  constexpr int kPublishes = 2000;
  std::vector<SnapshotPtr> snapshots;
  for (int i = 1; i <= kPublishes; ++i) snapshots.push_back(MakeSnapshot(i));
  SnapshotStore store;
  std::atomic<bool> done{false};
  std::atomic<bool> ordered{true};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      std::string last = std::string(protocol::kEmptyConfigHash);
      while (!done.load()) {
        const std::string hash = store.CurrentHash();
        if (hash < last) ordered = false;
        last = hash;
      }
    });
  }
  for (const SnapshotPtr& snapshot : snapshots) store.Publish(snapshot);
  done = true;
  for (std::thread& reader : readers) reader.join();
  EXPECT_TRUE(ordered.load());
  EXPECT_EQ(store.Current(), snapshots.back());
}

}  // namespace
}  // namespace tether::config

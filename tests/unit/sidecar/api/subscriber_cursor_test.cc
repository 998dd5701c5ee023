// SubscriberCursor without a server: the per-stream rules of the Watch API (latest wins with one
// update in flight, chunk order, resume, acks, filters), driven the way the Watch reactor and the
// fan-out worker drive them, with real snapshots, a real store and a real UpdateCache.
#include "sidecar/api/subscriber_cursor.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sidecar/api/update_cache.h"
#include "tests/unit/sidecar/api/snapshots.h"

namespace tether::api {
namespace {

using testing::Decode;
using testing::Row;
using Next = SubscriberCursor::Next;

config::SnapshotPtr Routes(absl::string_view name, absl::string_view consumer = "c") {
  return Decode(absl::StrCat(R"({"routes":[)", Row("r1", name), R"(],"consumers":[)",
                             Row("c1", consumer), "]}"));
}

Subscription Subscribe(UpdateMode mode, std::string resume_hash = "",
                       std::set<std::string, std::less<>> types = {}) {
  Subscription subscription;
  subscription.client_id = "test";
  subscription.filter = config::TypeFilter(std::move(types));
  subscription.mode = mode;
  subscription.resume_hash = std::move(resume_hash);
  return subscription;
}

// The entity types an update's upserts carry.
std::set<std::string> UpsertTypes(const Update& update) {
  std::set<std::string> types;
  absl::StatusOr<std::vector<v1::WatchResponse>> chunks = ParseUpdate(update);
  EXPECT_TRUE(chunks.ok()) << chunks.status();
  if (!chunks.ok()) return types;
  for (const v1::WatchResponse& chunk : *chunks) {
    for (const v1::Entity& upsert : chunk.upserts()) types.insert(upsert.type());
  }
  return types;
}

class SubscriberCursorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1_ = Routes("a");
    v2_ = Routes("b");
    v3_ = Routes("c");
    ASSERT_TRUE(v1_ && v2_ && v3_);
  }

  // What the worker does when the cursor says a build is due: take the plan, build the update
  // (UpdateCache, as the fan-out does) and start it. The plan, for the test to inspect.
  std::optional<SubscriberCursor::Plan> Build() {
    std::optional<SubscriberCursor::Plan> plan = cursor_.TakePending();
    if (!plan) return plan;
    UpdatePtr update = cache_.Get(plan->base, plan->target, plan->filter, plan->mode);
    cursor_.StartUpdate(plan->target, update);
    return plan;
  }

  // What the reactor does while writing: every chunk of the update in flight.
  Next WriteAll() {
    Next next;
    while ((next = cursor_.ChunkWritten()) == Next::kWriteChunk) {
    }
    return next;
  }

  config::SnapshotPtr v1_, v2_, v3_;
  config::SnapshotStore store_;
  UpdateCache cache_{/*max_chunk_bytes=*/1024};
  SubscriberCursor cursor_;
};

// The first update is the store's current snapshot, in full.
TEST_F(SubscriberCursorTest, FirstUpdateIsTheCurrentSnapshotInFull) {
  store_.Publish(v1_);
  EXPECT_FALSE(cursor_.Initialise(store_)) << "nothing before subscribe";
  cursor_.Subscribe(Subscribe(UpdateMode::kDelta));
  ASSERT_TRUE(cursor_.Initialise(store_));
  std::optional<SubscriberCursor::Plan> plan = Build();
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->base, nullptr);
  EXPECT_EQ(plan->target, v1_);
  ASSERT_NE(cursor_.in_flight(), nullptr);
  EXPECT_TRUE(cursor_.in_flight()->full);
  EXPECT_EQ(cursor_.sent(), nullptr) << "not sent until the last chunk is written";
  EXPECT_EQ(WriteAll(), Next::kIdle);
  EXPECT_EQ(cursor_.sent(), v1_);
  EXPECT_EQ(cursor_.in_flight(), nullptr);
  EXPECT_EQ(cursor_.updates_sent(), 1u);
}

// Before any config, the first publish is offered; offers before Initialise are not taken.
TEST_F(SubscriberCursorTest, EmptyStoreWaitsForTheFirstOffer) {
  cursor_.Subscribe(Subscribe(UpdateMode::kFull));
  EXPECT_FALSE(cursor_.Offer(v1_)) << "not initialised";
  EXPECT_FALSE(cursor_.Initialise(store_));
  EXPECT_FALSE(cursor_.TakePending());
  EXPECT_TRUE(cursor_.Offer(v1_));
  EXPECT_FALSE(cursor_.Offer(v1_)) << "already pending";
  std::optional<SubscriberCursor::Plan> plan = Build();
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->target, v1_);
}

// A slow subscriber holds one update in flight and one pending snapshot: newer snapshots replace
// the pending one, and the next build, from what was fully sent, targets the newest.
TEST_F(SubscriberCursorTest, LatestWinsWithOneUpdateInFlight) {
  store_.Publish(v1_);
  cursor_.Subscribe(Subscribe(UpdateMode::kDelta));
  ASSERT_TRUE(cursor_.Initialise(store_));
  ASSERT_TRUE(Build());
  const UpdatePtr first = cursor_.in_flight();

  EXPECT_FALSE(cursor_.Offer(v2_)) << "an update is in flight: no build now";
  EXPECT_FALSE(cursor_.Offer(v3_));
  EXPECT_FALSE(cursor_.TakePending()) << "never a second update in flight";
  EXPECT_EQ(cursor_.in_flight(), first);

  EXPECT_EQ(WriteAll(), Next::kBuild);
  EXPECT_EQ(cursor_.sent(), v1_) << "the update in flight, not the newer pending one";
  std::optional<SubscriberCursor::Plan> plan = Build();
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->base, v1_);
  EXPECT_EQ(plan->target, v3_) << "v2 was replaced while pending";
  ASSERT_NE(cursor_.in_flight(), nullptr);
  EXPECT_FALSE(cursor_.in_flight()->full);
  EXPECT_EQ(cursor_.in_flight()->base_hash, v1_->config_hash);
  EXPECT_EQ(WriteAll(), Next::kIdle);
  EXPECT_EQ(cursor_.sent(), v3_);
  EXPECT_EQ(cursor_.updates_sent(), 2u);
}

// What a stream already has or is getting is not offered again.
TEST_F(SubscriberCursorTest, SameSnapshotIsNotOfferedTwice) {
  store_.Publish(v1_);
  cursor_.Subscribe(Subscribe(UpdateMode::kFull));
  ASSERT_TRUE(cursor_.Initialise(store_));
  ASSERT_TRUE(Build());
  EXPECT_FALSE(cursor_.Offer(v1_)) << "in flight";
  EXPECT_EQ(WriteAll(), Next::kIdle);
  EXPECT_FALSE(cursor_.Offer(v1_)) << "sent";
}

// Chunks are written one at a time, in order, each of the same update, and the update counts as
// sent only after its last chunk.
TEST_F(SubscriberCursorTest, ChunksAreWrittenInOrder) {
  config::SnapshotPtr big =
      Decode(absl::StrCat(R"({"routes":[)", Row("r1", "a", 600), ",", Row("r2", "b", 600), ",",
                          Row("r3", "c", 600), "]}"));
  ASSERT_TRUE(big);
  store_.Publish(big);
  cursor_.Subscribe(Subscribe(UpdateMode::kFull));
  ASSERT_TRUE(cursor_.Initialise(store_));
  ASSERT_TRUE(Build());
  const UpdatePtr update = cursor_.in_flight();
  ASSERT_NE(update, nullptr);
  ASSERT_EQ(update->chunks.size(), 3u) << "one row per 1 KiB chunk";
  absl::StatusOr<std::vector<v1::WatchResponse>> chunks = ParseUpdate(*update);
  ASSERT_TRUE(chunks.ok()) << chunks.status();

  for (size_t i = 0; i < chunks->size(); ++i) {
    ASSERT_EQ(cursor_.chunk_index(), i);
    EXPECT_EQ((*chunks)[cursor_.chunk_index()].chunk_index(), i);
    EXPECT_EQ(cursor_.in_flight(), update);
    EXPECT_EQ(cursor_.sent(), nullptr);
    EXPECT_FALSE(cursor_.Offer(big));
    const Next next = cursor_.ChunkWritten();
    EXPECT_EQ(next, i + 1 < chunks->size() ? Next::kWriteChunk : Next::kIdle) << i;
  }
  EXPECT_TRUE(chunks->back().last_chunk());
  EXPECT_EQ(cursor_.sent(), big);
  EXPECT_EQ(cursor_.updates_sent(), 1u);
}

// A resume_hash naming the current snapshot: nothing until the next change, which then starts
// from it (a delta in DELTA mode, a full update in FULL mode).
TEST_F(SubscriberCursorTest, ResumeFromTheCurrentSnapshotSendsNothing) {
  for (UpdateMode mode : {UpdateMode::kDelta, UpdateMode::kFull}) {
    SubscriberCursor cursor;
    config::SnapshotStore store;
    store.Publish(v1_);
    cursor.Subscribe(Subscribe(mode, v1_->config_hash));
    EXPECT_FALSE(cursor.Initialise(store));
    EXPECT_FALSE(cursor.TakePending());
    EXPECT_EQ(cursor.sent(), v1_);
    EXPECT_FALSE(cursor.Offer(v1_));
    EXPECT_TRUE(cursor.Offer(v2_));
    std::optional<SubscriberCursor::Plan> plan = cursor.TakePending();
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->base, v1_);
    EXPECT_EQ(plan->target, v2_);
    EXPECT_EQ(plan->mode, mode);
  }
}

// In DELTA mode a resume_hash the store still holds gives the delta from it; one it no longer
// holds, or any older hash in FULL mode, gives a full update.
TEST_F(SubscriberCursorTest, ResumeFromAnOlderSnapshot) {
  store_.Publish(v1_);
  store_.Publish(v2_);
  struct Case {
    UpdateMode mode;
    std::string resume_hash;
    config::SnapshotPtr base;
  };
  for (const Case& c : {Case{UpdateMode::kDelta, v1_->config_hash, v1_},
                        Case{UpdateMode::kDelta, std::string(32, 'f'), nullptr},
                        Case{UpdateMode::kFull, v1_->config_hash, nullptr}}) {
    SubscriberCursor cursor;
    cursor.Subscribe(Subscribe(c.mode, c.resume_hash));
    ASSERT_TRUE(cursor.Initialise(store_));
    std::optional<SubscriberCursor::Plan> plan = cursor.TakePending();
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->base, c.base) << c.resume_hash;
    EXPECT_EQ(plan->target, v2_);
  }
}

// The filter travels with every plan. When nothing it covers changed there is nothing to send
// (null update), and the client keeps its base: the next delta starts from what it holds.
TEST_F(SubscriberCursorTest, FilterKeepsTheBaseWhenNothingItCoversChanged) {
  config::SnapshotPtr consumers_changed = Routes("a", "other");
  ASSERT_TRUE(consumers_changed);
  store_.Publish(v1_);
  cursor_.Subscribe(Subscribe(UpdateMode::kDelta, "", {"routes"}));
  ASSERT_TRUE(cursor_.Initialise(store_));
  std::optional<SubscriberCursor::Plan> plan = Build();
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->filter.Key(), "routes");
  EXPECT_EQ(UpsertTypes(*cursor_.in_flight()), std::set<std::string>{"routes"});
  EXPECT_EQ(WriteAll(), Next::kIdle);

  ASSERT_TRUE(cursor_.Offer(consumers_changed));
  plan = Build();
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->filter.Key(), "routes");
  EXPECT_EQ(cursor_.in_flight(), nullptr) << "no route changed: nothing to send";
  EXPECT_EQ(cursor_.sent(), v1_);

  ASSERT_TRUE(cursor_.Offer(v2_));
  plan = Build();
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->base, v1_);
  ASSERT_NE(cursor_.in_flight(), nullptr);
  EXPECT_EQ(cursor_.in_flight()->base_hash, v1_->config_hash);
}

// Acks and nacks are kept per hash: a nack does not undo the last ack, a later ack clears the
// nack.
TEST_F(SubscriberCursorTest, AcksAndNacksKeepTheirHash) {
  cursor_.Subscribe(Subscribe(UpdateMode::kFull));
  cursor_.Ack(v1_->config_hash);
  EXPECT_EQ(cursor_.acked_hash(), v1_->config_hash);
  EXPECT_EQ(cursor_.nacked_hash(), "");
  cursor_.Nack(v2_->config_hash);
  EXPECT_EQ(cursor_.acked_hash(), v1_->config_hash);
  EXPECT_EQ(cursor_.nacked_hash(), v2_->config_hash);
  cursor_.Ack(v3_->config_hash);
  EXPECT_EQ(cursor_.acked_hash(), v3_->config_hash);
  EXPECT_EQ(cursor_.nacked_hash(), "");
}

// Once closed (the stream finished), nothing is initialised, offered, taken or started.
TEST_F(SubscriberCursorTest, ClosedCursorDoesNothing) {
  store_.Publish(v1_);
  cursor_.Subscribe(Subscribe(UpdateMode::kFull));
  ASSERT_TRUE(cursor_.Initialise(store_));
  EXPECT_TRUE(cursor_.Close());
  EXPECT_FALSE(cursor_.Close()) << "already closed";
  EXPECT_TRUE(cursor_.closed());
  EXPECT_FALSE(cursor_.TakePending());
  EXPECT_FALSE(cursor_.Offer(v2_));
  EXPECT_FALSE(
      cursor_.StartUpdate(v1_, cache_.Get(nullptr, v1_, config::TypeFilter(), UpdateMode::kFull)));
  EXPECT_EQ(cursor_.in_flight(), nullptr);
}

}  // namespace
}  // namespace tether::api

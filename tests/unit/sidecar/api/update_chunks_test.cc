// UpdateChunks and ChunkReader (update_builder.h): chunks written when a stream takes them,
// shared by the streams sending the same update, and what they keep alive.
#include <grpcpp/support/slice.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/api/update_builder.h"
#include "sidecar/common/mutex.h"
#include "tests/unit/sidecar/api/snapshots.h"

namespace tether::api {
namespace {

using ::testing::ElementsAre;
using testing::Row;

// `count` services s0, s1, ... padded to `padding` bytes each.
config::SnapshotPtr Services(int count, size_t padding) {
  std::vector<std::string> rows;
  for (int i = 0; i < count; ++i) rows.push_back(Row(absl::StrCat("s", i), "svc", padding));
  return testing::Decode(absl::StrCat(R"({"services":[)", absl::StrJoin(rows, ","), "]}"));
}

// A chunk's bytes, as one string.
std::string Bytes(const grpc::ByteBuffer& chunk) {
  grpc::Slice slice;
  EXPECT_TRUE(chunk.DumpToSingleSlice(&slice).ok());
  return std::string(reinterpret_cast<const char*>(slice.begin()), slice.size());
}

// The JSON of every upsert in `update`, in order.
std::vector<std::string> UpsertJson(const Update& update) {
  absl::StatusOr<std::vector<v1::WatchResponse>> chunks = ParseUpdate(update);
  EXPECT_TRUE(chunks.ok()) << chunks.status();
  std::vector<std::string> json;
  if (!chunks.ok()) return json;
  for (const v1::WatchResponse& chunk : *chunks) {
    for (const v1::Entity& entity : chunk.upserts()) json.push_back(entity.json());
  }
  return json;
}

// An update of several chunks writes each when the first of its readers (the streams sending it)
// takes it, keeps it for the readers that have yet to, and frees it once none has: each chunk is
// written once however many streams send it, and only the chunks between the slowest and the
// fastest are held. An update of one chunk writes it when built and keeps it.
TEST(UpdateChunksTest, ReadersShareEachChunkWrittenOnce) {
  const UpdatePtr update =
      BuildFullUpdate(Services(200, 40), config::TypeFilter(), /*max_chunk_bytes=*/2048);
  ASSERT_GT(update->chunks.size(), 3u);
  EXPECT_LT(update->chunks.held_bytes(), update->bytes / 4);  // no chunk
  std::optional<ChunkReader> fast(std::in_place, update);
  ChunkReader slow(update);

  std::weak_ptr<const grpc::ByteBuffer> chunk0 = fast->Take(0);
  EXPECT_FALSE(chunk0.expired());  // kept for `slow`
  EXPECT_EQ(update->chunks.Get(0), chunk0.lock());
  EXPECT_EQ(slow.Take(0), chunk0.lock());
  EXPECT_TRUE(chunk0.expired());  // every reader took it

  // `slow` skips chunk 1, so `fast` alone needs it; chunk 2 is kept for `fast`.
  std::weak_ptr<const grpc::ByteBuffer> chunk2 = slow.Take(2);
  EXPECT_FALSE(chunk2.expired());
  std::weak_ptr<const grpc::ByteBuffer> chunk1 = fast->Take(1);
  EXPECT_TRUE(chunk1.expired());
  // A reader that leaves gives up what it did not take.
  fast.reset();
  EXPECT_TRUE(chunk2.expired());

  // Chunks written again for a later reader have the same bytes.
  const std::string bytes = Bytes(*update->chunks.Get(1));
  EXPECT_EQ(Bytes(*ChunkReader(update).Take(1)), bytes);

  const UpdatePtr single = BuildFullUpdate(Services(3, 0), config::TypeFilter());
  ASSERT_EQ(single->chunks.size(), 1u);
  EXPECT_GE(single->chunks.held_bytes(), single->bytes);
  const ChunkPtr kept = single->chunks.Get(0);
  EXPECT_EQ(ChunkReader(single).Take(0), kept);
}

// Streams sending one update run on gRPC's threads: readers taking its chunks at once, each at
// its own pace, all get the same bytes, and once they are done the update holds no chunk. (Run
// under TSan by scripts/ci-sanitize.)
TEST(UpdateChunksTest, ReadersOnManyThreadsGetTheSameBytes) {
  const UpdatePtr update =
      BuildFullUpdate(Services(400, 40), config::TypeFilter(), /*max_chunk_bytes=*/2048);
  ASSERT_GT(update->chunks.size(), 10u);
  std::vector<std::string> want;
  for (size_t i = 0; i < update->chunks.size(); ++i) want.push_back(Bytes(*update->chunks.Get(i)));

  constexpr int kReaders = 8;
  std::vector<std::vector<std::string>> got(kReaders);
  std::vector<std::thread> threads;
  std::vector<std::weak_ptr<const grpc::ByteBuffer>> taken;
  Mutex taken_mu;
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      ChunkReader reader(update);
      // Odd readers give up every third chunk, as a stream that finishes early gives up the rest.
      for (size_t i = 0; i < update->chunks.size(); ++i) {
        if (r % 2 == 1 && i % 3 == 2) continue;
        const ChunkPtr chunk = reader.Take(i);
        got[r].push_back(Bytes(*chunk));
        MutexLock lock(&taken_mu);
        taken.push_back(chunk);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int r = 0; r < kReaders; ++r) {
    std::vector<std::string> expected;
    for (size_t i = 0; i < want.size(); ++i) {
      if (r % 2 == 0 || i % 3 != 2) expected.push_back(want[i]);
    }
    EXPECT_EQ(got[r], expected) << "reader " << r;
  }
  for (const auto& chunk : taken) EXPECT_TRUE(chunk.expired());
}

// Rows are views into snapshots, and chunks are written late: the update keeps alive what its
// rows view, so that a stream still sending an old config can write its next chunk after the
// store and everyone else let that config go; and a written chunk owns its bytes, so a stream
// may finish sending it after the update is gone. (Under ASan, a view that outlived its text
// is a use after free.)
TEST(UpdateChunksTest, ChunksOutliveTheSnapshotsTheyAreWrittenFrom) {
  constexpr int kServices = 50;
  constexpr size_t kPadding = 100;
  config::SnapshotPtr base = Services(kServices, kPadding);
  config::SnapshotPtr target =
      testing::Decode(absl::StrCat(R"({"services":[)", Row("changed", "c", kPadding), "]}"));
  UpdatePtr full = BuildFullUpdate(base, config::TypeFilter(), /*max_chunk_bytes=*/1024);
  UpdatePtr delta = BuildDeltaUpdate(base, target, config::TypeFilter(), /*max_chunk_bytes=*/1024);
  ASSERT_NE(delta, nullptr);
  ASSERT_GT(full->chunks.size(), 2u);
  ASSERT_GT(delta->chunks.size(), 1u);  // the removals of 50 services
  std::weak_ptr<const config::Snapshot> base_alive = base;
  std::weak_ptr<const config::Snapshot> target_alive = target;
  base.reset();
  target.reset();
  EXPECT_FALSE(base_alive.expired());    // both updates view it
  EXPECT_FALSE(target_alive.expired());  // the delta's upsert views it

  std::vector<std::string> upserts = UpsertJson(*full);
  ASSERT_EQ(upserts.size(), static_cast<size_t>(kServices));
  for (size_t i = 0; i < upserts.size(); ++i) {
    EXPECT_EQ(upserts[i], Row(absl::StrCat("s", i), "svc", kPadding));
  }

  const ChunkPtr last = full->chunks.Get(full->chunks.size() - 1);
  const std::string last_bytes = Bytes(*last);
  full.reset();
  EXPECT_FALSE(base_alive.expired());  // the delta's removals view it
  EXPECT_THAT(UpsertJson(*delta), ElementsAre(Row("changed", "c", kPadding)));
  std::vector<std::string> removed;
  absl::StatusOr<std::vector<v1::WatchResponse>> chunks = ParseUpdate(*delta);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  for (const v1::WatchResponse& chunk : *chunks) {
    for (const v1::EntityRef& removal : chunk.removals()) {
      EXPECT_EQ(removal.type(), "services");
      removed.push_back(removal.id());
    }
  }
  ASSERT_EQ(removed.size(), static_cast<size_t>(kServices));
  for (size_t i = 0; i < removed.size(); ++i) EXPECT_EQ(removed[i], absl::StrCat("s", i));
  delta.reset();
  EXPECT_TRUE(base_alive.expired());
  EXPECT_TRUE(target_alive.expired());
  EXPECT_EQ(Bytes(*last), last_bytes);
  v1::WatchResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(Bytes(*last)));
  EXPECT_TRUE(parsed.last_chunk());
}

}  // namespace
}  // namespace tether::api

#include "client/lib/mirror.h"

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/constants.h"
#include "protocol/gzip.h"
#include "sidecar/api/update_builder.h"
#include "sidecar/config/decoder.h"

namespace tether::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

config::SnapshotPtr Decode(absl::string_view config_table) {
  const std::string message =
      absl::StrCat(R"({"type":"reconfigure","config_table":)", config_table, "}");
  absl::StatusOr<config::DecodeResult> result = config::DecodeReconfigure(
      protocol::Gzip(message), protocol::kEmptyConfigHash, config::DecodeLimits(),
      config::Source::kControlPlane, absl::FromUnixSeconds(1718000000));
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return std::make_shared<config::Snapshot>();
  return result->snapshot;
}

std::vector<v1::WatchResponse> Chunks(const api::UpdatePtr& update) {
  EXPECT_NE(update, nullptr);
  if (update == nullptr) return {};
  absl::StatusOr<std::vector<v1::WatchResponse>> chunks = api::ParseUpdate(*update);
  EXPECT_TRUE(chunks.ok()) << chunks.status();
  return chunks.ok() ? *std::move(chunks) : std::vector<v1::WatchResponse>();
}

// Feeds every chunk; returns the mirror the last one completes, or the first error.
absl::StatusOr<MirrorPtr> Feed(UpdateAssembler& assembler,
                               const std::vector<v1::WatchResponse>& chunks) {
  for (size_t i = 0; i < chunks.size(); ++i) {
    absl::StatusOr<std::optional<MirrorPtr>> result = assembler.Add(chunks[i]);
    if (!result.ok()) return result.status();
    if (result->has_value() != (i + 1 == chunks.size())) {
      return absl::InternalError(absl::StrCat("chunk ", i, " completed: ", result->has_value()));
    }
    if (result->has_value()) return **result;
  }
  return absl::InternalError("no chunks");
}

// The CP sends rows as compact JSON, which tether serves as it is.
constexpr absl::string_view kFirst = R"({
  "_format_version": "3.0",
  "services": [{"id":"s1","name":"a"}, {"id":"s2","name":"b"}],
  "routes": [{"id":"r1","service":"s1"}]
})";
constexpr absl::string_view kSecond = R"({
  "_format_version": "3.0",
  "services": [{"id":"s1","name":"a2"}],
  "routes": [{"id":"r1","service":"s1"}, {"id":"r2","service":"s1"}],
  "consumers": [{"id":"c1"}]
})";
constexpr absl::string_view kThird = R"({
  "_format_version": "3.1",
  "routes": [{"id":"r2","service":"s1"}],
  "consumers": []
})";

// A full update fills the mirror; deltas then bring it to each later snapshot, including types
// that appear, become empty or vanish, and metadata changes.
TEST(UpdateAssemblerTest, FullThenDeltas) {
  const config::SnapshotPtr first = Decode(kFirst);
  const config::SnapshotPtr second = Decode(kSecond);
  const config::SnapshotPtr third = Decode(kThird);
  const config::TypeFilter all;
  UpdateAssembler assembler;
  EXPECT_EQ(assembler.current()->config_hash, "");

  absl::StatusOr<MirrorPtr> mirror = Feed(assembler, Chunks(api::BuildFullUpdate(first, all)));
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  EXPECT_EQ((*mirror)->config_hash, first->config_hash);
  EXPECT_EQ((*mirror)->hashes, first->hashes);
  EXPECT_EQ((*mirror)->source, v1::SOURCE_CONTROL_PLANE);
  EXPECT_THAT((*mirror)->metadata, ElementsAre(Pair("_format_version", "\"3.0\"")));
  EXPECT_THAT((*mirror)->entities,
              ElementsAre(Pair("routes", ElementsAre(Pair("r1", R"({"id":"r1","service":"s1"})"))),
                          Pair("services", ElementsAre(Pair("s1", R"({"id":"s1","name":"a"})"),
                                                       Pair("s2", R"({"id":"s2","name":"b"})")))));
  EXPECT_EQ((*mirror)->EntityCount(), 3u);
  EXPECT_EQ(assembler.current(), *mirror);

  mirror = Feed(assembler, Chunks(api::BuildDeltaUpdate(first, second, all)));
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  EXPECT_EQ((*mirror)->config_hash, second->config_hash);
  EXPECT_EQ((*mirror)->hashes, second->hashes);
  EXPECT_THAT((*mirror)->entities,
              ElementsAre(Pair("consumers", ElementsAre(Pair("c1", R"({"id":"c1"})"))),
                          Pair("routes", ElementsAre(Pair("r1", R"({"id":"r1","service":"s1"})"),
                                                     Pair("r2", R"({"id":"r2","service":"s1"})"))),
                          Pair("services", ElementsAre(Pair("s1", R"({"id":"s1","name":"a2"})")))));

  mirror = Feed(assembler, Chunks(api::BuildDeltaUpdate(second, third, all)));
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  EXPECT_EQ((*mirror)->config_hash, third->config_hash);
  EXPECT_EQ((*mirror)->hashes, third->hashes);
  EXPECT_THAT((*mirror)->metadata, ElementsAre(Pair("_format_version", "\"3.1\"")));
  EXPECT_THAT(
      (*mirror)->entities,
      ElementsAre(Pair("consumers", IsEmpty()),
                  Pair("routes", ElementsAre(Pair("r2", R"({"id":"r2","service":"s1"})")))));
}

// A published mirror never changes: applying a delta builds a new one.
TEST(UpdateAssemblerTest, PublishedMirrorIsNotModified) {
  const config::SnapshotPtr first = Decode(kFirst);
  const config::SnapshotPtr second = Decode(kSecond);
  UpdateAssembler assembler;
  absl::StatusOr<MirrorPtr> before =
      Feed(assembler, Chunks(api::BuildFullUpdate(first, config::TypeFilter())));
  ASSERT_TRUE(before.ok()) << before.status();
  const Mirror snapshot_of_before = **before;
  ASSERT_TRUE(
      Feed(assembler, Chunks(api::BuildDeltaUpdate(first, second, config::TypeFilter()))).ok());
  EXPECT_NE(assembler.current(), *before);
  EXPECT_EQ((*before)->entities, snapshot_of_before.entities);
  EXPECT_EQ((*before)->config_hash, first->config_hash);
}

// A multi-chunk update is applied only at last_chunk; until then current() is the old mirror.
TEST(UpdateAssemblerTest, AppliesOnlyAtLastChunk) {
  std::string table = R"({"routes":[)";
  for (int i = 0; i < 50; ++i) {
    absl::StrAppend(&table, i > 0 ? "," : "", R"({"id":"r)", i, R"(","pad":")",
                    std::string(100, 'p'), R"("})");
  }
  table += "]}";
  const config::SnapshotPtr snapshot = Decode(table);
  const std::vector<v1::WatchResponse> chunks =
      Chunks(api::BuildFullUpdate(snapshot, config::TypeFilter(), /*max_chunk_bytes=*/1024));
  ASSERT_GT(chunks.size(), 2u);
  UpdateAssembler assembler;
  const MirrorPtr initial = assembler.current();
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    absl::StatusOr<std::optional<MirrorPtr>> result = assembler.Add(chunks[i]);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_FALSE(result->has_value());
    EXPECT_EQ(assembler.current(), initial);
  }
  absl::StatusOr<std::optional<MirrorPtr>> result = assembler.Add(chunks.back());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->has_value());
  EXPECT_EQ((**result)->EntityCount(), 50u);
  EXPECT_EQ(assembler.current(), **result);
}

// An assembler started from a held mirror (after a reconnect) accepts a delta from its hash.
TEST(UpdateAssemblerTest, ResumesFromInitialMirror) {
  const config::SnapshotPtr first = Decode(kFirst);
  const config::SnapshotPtr second = Decode(kSecond);
  UpdateAssembler original;
  absl::StatusOr<MirrorPtr> held =
      Feed(original, Chunks(api::BuildFullUpdate(first, config::TypeFilter())));
  ASSERT_TRUE(held.ok()) << held.status();

  UpdateAssembler resumed(*held);
  absl::StatusOr<MirrorPtr> mirror =
      Feed(resumed, Chunks(api::BuildDeltaUpdate(first, second, config::TypeFilter())));
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  EXPECT_EQ((*mirror)->config_hash, second->config_hash);
  EXPECT_EQ((*mirror)->EntityCount(), second->EntityCount());
}

// A delta whose metadata drops a key (empty value) removes it from the mirror.
TEST(UpdateAssemblerTest, DeltaRemovesMetadataKey) {
  const config::SnapshotPtr first =
      Decode(R"({"_format_version":"3.0","_comment":"x","routes":[{"id":"r1"}]})");
  const config::SnapshotPtr second = Decode(R"({"routes":[{"id":"r1"}]})");
  UpdateAssembler assembler;
  ASSERT_TRUE(Feed(assembler, Chunks(api::BuildFullUpdate(first, config::TypeFilter()))).ok());
  EXPECT_EQ(assembler.current()->metadata.size(), 2u);
  absl::StatusOr<MirrorPtr> mirror =
      Feed(assembler, Chunks(api::BuildDeltaUpdate(first, second, config::TypeFilter())));
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  EXPECT_THAT((*mirror)->metadata, IsEmpty());
}

// Inconsistent chunk sequences are refused with InvalidArgument, leave the held mirror as it
// was, and drop the partial update so the next update starts cleanly.
struct BadSequence {
  std::string name;
  // Builds the chunks to feed after the full update of kFirst was applied.
  std::function<std::vector<v1::WatchResponse>(const config::SnapshotPtr& first,
                                               const config::SnapshotPtr& second)>
      chunks;
  std::string message;
};

// Chunks of a multi-chunk full update of `snapshot`.
std::vector<v1::WatchResponse> SmallChunks(const config::SnapshotPtr& snapshot) {
  std::vector<v1::WatchResponse> chunks =
      Chunks(api::BuildFullUpdate(snapshot, config::TypeFilter(), /*max_chunk_bytes=*/200));
  EXPECT_GE(chunks.size(), 3u);
  return chunks;
}

class UpdateAssemblerRejectsTest : public ::testing::TestWithParam<BadSequence> {};

TEST_P(UpdateAssemblerRejectsTest, LeavesMirrorUnchanged) {
  const config::SnapshotPtr first = Decode(kFirst);
  const config::SnapshotPtr second = Decode(kSecond);
  UpdateAssembler assembler;
  ASSERT_TRUE(Feed(assembler, Chunks(api::BuildFullUpdate(first, config::TypeFilter()))).ok());
  const MirrorPtr held = assembler.current();
  const Mirror copy = *held;

  const std::vector<v1::WatchResponse> chunks = GetParam().chunks(first, second);
  absl::Status error;
  for (const v1::WatchResponse& chunk : chunks) {
    absl::StatusOr<std::optional<MirrorPtr>> result = assembler.Add(chunk);
    if (!result.ok()) {
      error = result.status();
      break;
    }
    ASSERT_FALSE(result->has_value()) << "an inconsistent sequence completed";
  }
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument) << error;
  EXPECT_THAT(error.message(), HasSubstr(GetParam().message));
  EXPECT_EQ(assembler.current(), held);
  EXPECT_EQ(held->entities, copy.entities);
  EXPECT_EQ(held->hashes, copy.hashes);
  EXPECT_EQ(held->config_hash, copy.config_hash);

  // The partial update was dropped: a good delta applies next.
  absl::StatusOr<MirrorPtr> mirror =
      Feed(assembler, Chunks(api::BuildDeltaUpdate(first, second, config::TypeFilter())));
  ASSERT_TRUE(mirror.ok()) << mirror.status();
  EXPECT_EQ((*mirror)->config_hash, second->config_hash);
}

INSTANTIATE_TEST_SUITE_P(
    Sequences, UpdateAssemblerRejectsTest,
    ::testing::Values(
        BadSequence{"BaseMismatch",
                    [](const config::SnapshotPtr& first, const config::SnapshotPtr& second) {
                      // A delta from `second` to `first`, while the mirror holds `first`.
                      return Chunks(api::BuildDeltaUpdate(second, first, config::TypeFilter()));
                    },
                    "applies to"},
        BadSequence{"HashChangesMidUpdate",
                    [](const config::SnapshotPtr& first, const config::SnapshotPtr& second) {
                      std::vector<v1::WatchResponse> a = SmallChunks(second);
                      std::vector<v1::WatchResponse> b = SmallChunks(first);
                      return std::vector<v1::WatchResponse>{a[0], b[1]};
                    },
                    "has config_hash"},
        BadSequence{"IndexGap",
                    [](const config::SnapshotPtr& first, const config::SnapshotPtr& second) {
                      std::vector<v1::WatchResponse> a = SmallChunks(second);
                      return std::vector<v1::WatchResponse>{a[0], a[2]};
                    },
                    "chunk_index 2, want 1"},
        BadSequence{"FirstChunkNotZero",
                    [](const config::SnapshotPtr& first, const config::SnapshotPtr& second) {
                      return std::vector<v1::WatchResponse>{SmallChunks(second)[1]};
                    },
                    "want 0"},
        BadSequence{"FullFlagChangesMidUpdate",
                    [](const config::SnapshotPtr& first, const config::SnapshotPtr& second) {
                      std::vector<v1::WatchResponse> a = SmallChunks(second);
                      a[1].set_full(false);
                      a[1].set_base_hash(first->config_hash);
                      return std::vector<v1::WatchResponse>{a[0], a[1]};
                    },
                    "mid-update"},
        BadSequence{"MetadataOnLaterChunk",
                    [](const config::SnapshotPtr& first, const config::SnapshotPtr& second) {
                      std::vector<v1::WatchResponse> a = SmallChunks(second);
                      (*a[1].mutable_metadata())["_comment"] = "\"late\"";
                      return std::vector<v1::WatchResponse>{a[0], a[1]};
                    },
                    "carries metadata"},
        BadSequence{"RemovalsInFullUpdate",
                    [](const config::SnapshotPtr& first, const config::SnapshotPtr& second) {
                      std::vector<v1::WatchResponse> a = SmallChunks(second);
                      v1::EntityRef* ref = a[1].add_removals();
                      ref->set_type("routes");
                      ref->set_id("r1");
                      return std::vector<v1::WatchResponse>{a[0], a[1]};
                    },
                    "removals"},
        BadSequence{"UpsertOfUnlistedType",
                    [](const config::SnapshotPtr& first, const config::SnapshotPtr& second) {
                      std::vector<v1::WatchResponse> a = SmallChunks(second);
                      v1::Entity* entity = a[1].add_upserts();
                      entity->set_type("widgets");
                      entity->set_id("w1");
                      entity->set_json("{}");
                      return std::vector<v1::WatchResponse>{a[0], a[1]};
                    },
                    "does not list type widgets"},
        BadSequence{"MissingConfigHash",
                    [](const config::SnapshotPtr& first, const config::SnapshotPtr& second) {
                      std::vector<v1::WatchResponse> a = SmallChunks(second);
                      a[0].clear_config_hash();
                      return std::vector<v1::WatchResponse>{a[0]};
                    },
                    "without config_hash"}),
    [](const ::testing::TestParamInfo<BadSequence>& info) { return info.param.name; });

}  // namespace
}  // namespace tether::client

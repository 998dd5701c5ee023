#include "sidecar/api/update_builder.h"

#include <grpcpp/support/slice.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/constants.h"
#include "protocol/gzip.h"
#include "sidecar/config/decoder.h"

namespace tether::api {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr size_t kGrpcDefaultMaxReceiveBytes = 4 * 1024 * 1024;
const absl::Time kReceivedAt = absl::FromUnixSeconds(1718000100) + absl::Milliseconds(250);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A snapshot decoded from `config_table` (JSON text) as the sidecar decodes a message without
// config_hash (every hash computed).
config::SnapshotPtr Decode(absl::string_view config_table) {
  const std::string message =
      absl::StrCat(R"({"type":"reconfigure","config_table":)", config_table, "}");
  absl::StatusOr<config::DecodeResult> result =
      config::DecodeReconfigure(protocol::Gzip(message), protocol::kEmptyConfigHash,
                                config::DecodeLimits(), config::Source::kControlPlane, kReceivedAt);
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return std::make_shared<config::Snapshot>();
  return result->snapshot;
}

config::SnapshotPtr ExampleSnapshot() {
  return Decode(ReadFile(std::string(TETHER_SOURCE_DIR) + "/deploy/examples/kong-config.json"));
}

std::vector<v1::WatchResponse> Parse(const Update& update) {
  absl::StatusOr<std::vector<v1::WatchResponse>> chunks = ParseUpdate(update);
  EXPECT_TRUE(chunks.ok()) << chunks.status();
  return chunks.ok() ? *std::move(chunks) : std::vector<v1::WatchResponse>();
}

// Checks what every well-formed update must satisfy: one config_hash, indices 0..n-1,
// last_chunk on the last only, metadata on the first only, sizes adding up.
void ExpectWellFormed(const Update& update, const std::vector<v1::WatchResponse>& chunks) {
  ASSERT_EQ(chunks.size(), update.chunks.size());
  ASSERT_FALSE(chunks.empty());
  size_t bytes = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("chunk ", i));
    EXPECT_EQ(chunks[i].config_hash(), update.config_hash);
    EXPECT_EQ(chunks[i].base_hash(), update.base_hash);
    EXPECT_EQ(chunks[i].full(), update.full);
    EXPECT_EQ(chunks[i].chunk_index(), i);
    EXPECT_EQ(chunks[i].last_chunk(), i + 1 == chunks.size());
    if (i > 0) {
      EXPECT_THAT(chunks[i].metadata(), IsEmpty());
    }
    bytes += update.chunks[i].Length();
  }
  EXPECT_EQ(bytes, update.bytes);
}

// A config_table with `routes` routes, each padded to roughly `pad` bytes of JSON.
std::string ManyRoutes(int routes, size_t pad) {
  std::string json = R"({"_format_version":"3.0","services":[{"id":"s1","name":"svc"}],"routes":[)";
  const std::string padding(pad, 'x');
  for (int i = 0; i < routes; ++i) {
    if (i > 0) json += ',';
    absl::StrAppend(&json, R"({"id":"route-)", i, R"(","paths":["/p)", i, R"("],"service":"s1",)",
                    R"("tags":[")", padding, R"("]})");
  }
  json += "]}";
  return json;
}

// A full update of the example config carries every entity, exactly as decoded, plus the
// snapshot's hashes, metadata, types, source and time, in one chunk.
TEST(UpdateBuilderTest, FullUpdateOfExampleParsesBack) {
  const config::SnapshotPtr snapshot = ExampleSnapshot();
  const UpdatePtr update = BuildFullUpdate(*snapshot, config::TypeFilter());
  ASSERT_NE(update, nullptr);
  EXPECT_TRUE(update->full);
  EXPECT_EQ(update->config_hash, snapshot->config_hash);
  EXPECT_EQ(update->upserts, snapshot->EntityCount());
  EXPECT_EQ(update->removals, 0u);
  const std::vector<v1::WatchResponse> chunks = Parse(*update);
  ExpectWellFormed(*update, chunks);
  ASSERT_EQ(chunks.size(), 1u);
  const v1::WatchResponse& chunk = chunks[0];

  ASSERT_EQ(static_cast<size_t>(chunk.upserts_size()), snapshot->EntityCount());
  std::set<std::pair<std::string, std::string>> seen;
  for (const v1::Entity& entity : chunk.upserts()) {
    SCOPED_TRACE(absl::StrCat(entity.type(), "/", entity.id()));
    const config::Entity* expected = snapshot->Find(entity.type(), entity.id());
    ASSERT_NE(expected, nullptr);
    EXPECT_EQ(entity.json(), expected->json);
    EXPECT_TRUE(seen.emplace(entity.type(), entity.id()).second);
  }
  EXPECT_THAT(chunk.removals(), IsEmpty());
  const std::map<std::string, std::string> hashes(chunk.hashes().begin(), chunk.hashes().end());
  EXPECT_EQ(hashes, snapshot->hashes);
  const std::map<std::string, std::string> metadata(chunk.metadata().begin(),
                                                    chunk.metadata().end());
  EXPECT_EQ(metadata, snapshot->metadata);
  EXPECT_THAT(chunk.metadata(), UnorderedElementsAre(Pair("_format_version", "\"3.0\""),
                                                     Pair("_transform", "false")));
  std::vector<std::string> types;
  for (const auto& [type, collection] : snapshot->types) types.push_back(type);
  EXPECT_EQ(std::vector<std::string>(chunk.entity_types().begin(), chunk.entity_types().end()),
            types);
  EXPECT_EQ(chunk.source(), v1::SOURCE_CONTROL_PLANE);
  EXPECT_EQ(chunk.received_at().seconds(), 1718000100);
  EXPECT_EQ(chunk.received_at().nanos(), 250000000);
}

// A config whose JSON exceeds gRPC's 4 MiB default is split into several chunks, each under
// 4 MiB and under the budget, which together carry every route once.
TEST(UpdateBuilderTest, LargeConfigIsChunkedUnder4MiB) {
  constexpr int kRoutes = 20000;
  const std::string table = ManyRoutes(kRoutes, 256);
  ASSERT_GT(table.size(), kGrpcDefaultMaxReceiveBytes);
  const config::SnapshotPtr snapshot = Decode(table);
  const UpdatePtr update = BuildFullUpdate(*snapshot, config::TypeFilter());
  ASSERT_GT(update->chunks.size(), 1u);
  for (const grpc::ByteBuffer& chunk : update->chunks) {
    EXPECT_LE(chunk.Length(), kDefaultMaxChunkBytes);
    EXPECT_LT(chunk.Length(), kGrpcDefaultMaxReceiveBytes);
  }
  const std::vector<v1::WatchResponse> chunks = Parse(*update);
  ExpectWellFormed(*update, chunks);
  std::set<std::string> routes;
  for (const v1::WatchResponse& chunk : chunks) {
    for (const v1::Entity& entity : chunk.upserts()) {
      if (entity.type() == "routes") {
        EXPECT_TRUE(routes.insert(entity.id()).second) << entity.id();
      }
    }
  }
  EXPECT_EQ(routes.size(), static_cast<size_t>(kRoutes));
  EXPECT_EQ(update->upserts, static_cast<size_t>(kRoutes + 1));
}

// With a small budget every chunk stays within it, and chunks are reasonably full (the packing
// is not one entity per chunk).
TEST(UpdateBuilderTest, SmallBudgetIsRespected) {
  constexpr size_t kBudget = 2048;
  const config::SnapshotPtr snapshot = Decode(ManyRoutes(200, 40));
  const UpdatePtr update = BuildFullUpdate(*snapshot, config::TypeFilter(), kBudget);
  const std::vector<v1::WatchResponse> chunks = Parse(*update);
  ExpectWellFormed(*update, chunks);
  for (const grpc::ByteBuffer& chunk : update->chunks) EXPECT_LE(chunk.Length(), kBudget);
  EXPECT_LT(chunks.size(), 201u / 4);
}

// An entity bigger than the budget cannot be split: it goes alone in its own chunk, and the
// entities around it still go in chunks within the budget.
TEST(UpdateBuilderTest, OversizedEntityGoesAlone) {
  constexpr size_t kBudget = 2048;
  const std::string big(10000, 'b');
  const config::SnapshotPtr snapshot = Decode(
      absl::StrCat(R"({"routes":[{"id":"r1"},{"id":"r2","name":")", big, R"("},{"id":"r3"}]})"));
  const UpdatePtr update = BuildFullUpdate(*snapshot, config::TypeFilter(), kBudget);
  const std::vector<v1::WatchResponse> chunks = Parse(*update);
  ExpectWellFormed(*update, chunks);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].upserts(0).id(), "r1");
  ASSERT_EQ(chunks[1].upserts_size(), 1);
  EXPECT_EQ(chunks[1].upserts(0).id(), "r2");
  EXPECT_GT(update->chunks[1].Length(), kBudget);
  EXPECT_EQ(chunks[2].upserts(0).id(), "r3");
  EXPECT_LE(update->chunks[2].Length(), kBudget);
}

// A filter restricts upserts, entity_types and hashes to the subscribed types ("config" is
// always there); subscribed types absent from the snapshot are not listed.
TEST(UpdateBuilderTest, FilterRestrictsTypesAndHashes) {
  const config::SnapshotPtr snapshot = ExampleSnapshot();
  const UpdatePtr update =
      BuildFullUpdate(*snapshot, config::TypeFilter({"routes", "consumers", "nonexistent"}));
  const std::vector<v1::WatchResponse> chunks = Parse(*update);
  ExpectWellFormed(*update, chunks);
  ASSERT_EQ(chunks.size(), 1u);
  for (const v1::Entity& entity : chunks[0].upserts()) {
    EXPECT_TRUE(entity.type() == "routes" || entity.type() == "consumers") << entity.type();
  }
  EXPECT_EQ(update->upserts, snapshot->types.at("routes")->items.size() +
                                 snapshot->types.at("consumers")->items.size());
  EXPECT_THAT(chunks[0].entity_types(), ElementsAre("consumers", "routes"));
  EXPECT_THAT(chunks[0].hashes(),
              UnorderedElementsAre(Pair("config", snapshot->config_hash),
                                   Pair("routes", snapshot->hashes.at("routes")),
                                   Pair("consumers", snapshot->hashes.at("consumers"))));
}

// A filter that matches nothing still yields one (empty, last) chunk naming the config.
TEST(UpdateBuilderTest, EmptyFullUpdateHasOneChunk) {
  const config::SnapshotPtr snapshot = ExampleSnapshot();
  const UpdatePtr update = BuildFullUpdate(*snapshot, config::TypeFilter({"nonexistent"}));
  const std::vector<v1::WatchResponse> chunks = Parse(*update);
  ExpectWellFormed(*update, chunks);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_THAT(chunks[0].upserts(), IsEmpty());
  EXPECT_THAT(chunks[0].entity_types(), IsEmpty());
  EXPECT_EQ(chunks[0].config_hash(), snapshot->config_hash);
}

// A delta between equal configs, or one that only touches unsubscribed types, is nullptr.
TEST(UpdateBuilderTest, DeltaWithNothingChangedIsNull) {
  const config::SnapshotPtr base =
      Decode(R"({"_format_version":"3.0","routes":[{"id":"r1"}],"consumers":[{"id":"c1"}]})");
  const config::SnapshotPtr same =
      Decode(R"({"_format_version":"3.0","routes":[{"id":"r1"}],"consumers":[{"id":"c1"}]})");
  EXPECT_EQ(BuildDeltaUpdate(*base, *same, config::TypeFilter()), nullptr);
  const config::SnapshotPtr consumer_changed =
      Decode(R"({"_format_version":"3.0","routes":[{"id":"r1"}],"consumers":[{"id":"c1","x":1}]})");
  EXPECT_EQ(BuildDeltaUpdate(*base, *consumer_changed, config::TypeFilter({"routes"})), nullptr);
  EXPECT_NE(BuildDeltaUpdate(*base, *consumer_changed, config::TypeFilter()), nullptr);
}

// A delta names its base, carries upserts and removals, and leaves metadata out when unchanged.
TEST(UpdateBuilderTest, DeltaCarriesChanges) {
  const config::SnapshotPtr base = Decode(
      R"({"_format_version":"3.0","routes":[{"id":"r1"},{"id":"r2"}],"consumers":[{"id":"c1"}]})");
  const config::SnapshotPtr target =
      Decode(R"({"_format_version":"3.0","routes":[{"id":"r1","x":1},{"id":"r3"}]})");
  const UpdatePtr update = BuildDeltaUpdate(*base, *target, config::TypeFilter());
  ASSERT_NE(update, nullptr);
  EXPECT_FALSE(update->full);
  EXPECT_EQ(update->base_hash, base->config_hash);
  EXPECT_EQ(update->upserts, 2u);
  EXPECT_EQ(update->removals, 2u);
  const std::vector<v1::WatchResponse> chunks = Parse(*update);
  ExpectWellFormed(*update, chunks);
  ASSERT_EQ(chunks.size(), 1u);
  std::vector<std::string> upserts;
  for (const v1::Entity& entity : chunks[0].upserts()) {
    upserts.push_back(absl::StrCat(entity.type(), "/", entity.id(), "=", entity.json()));
  }
  EXPECT_THAT(upserts, ElementsAre(R"(routes/r1={"id":"r1","x":1})", R"(routes/r3={"id":"r3"})"));
  std::vector<std::string> removals;
  for (const v1::EntityRef& ref : chunks[0].removals()) {
    removals.push_back(absl::StrCat(ref.type(), "/", ref.id()));
  }
  EXPECT_THAT(removals, ElementsAre("consumers/c1", "routes/r2"));
  EXPECT_THAT(chunks[0].metadata(), IsEmpty());
  EXPECT_THAT(chunks[0].entity_types(), ElementsAre("routes"));
}

// A delta that changes metadata carries the target's metadata on its first chunk, with an empty
// value for each key the target dropped.
TEST(UpdateBuilderTest, DeltaCarriesMetadataWithRemovals) {
  const config::SnapshotPtr base =
      Decode(R"({"_format_version":"3.0","_transform":false,"routes":[{"id":"r1"}]})");
  const config::SnapshotPtr target = Decode(R"({"_format_version":"3.1","routes":[{"id":"r1"}]})");
  const UpdatePtr update = BuildDeltaUpdate(*base, *target, config::TypeFilter({"routes"}));
  ASSERT_NE(update, nullptr);
  const std::vector<v1::WatchResponse> chunks = Parse(*update);
  ExpectWellFormed(*update, chunks);
  EXPECT_THAT(chunks[0].upserts(), IsEmpty());
  EXPECT_THAT(chunks[0].metadata(),
              UnorderedElementsAre(Pair("_format_version", "\"3.1\""), Pair("_transform", "")));
}

// Copying an update's ByteBuffer shares its bytes instead of copying them: both copies dump to
// the same memory, so fan-out to many subscribers costs no per-subscriber serialisation.
TEST(UpdateBuilderTest, ByteBufferCopiesShareBytes) {
  const config::SnapshotPtr snapshot = ExampleSnapshot();
  const UpdatePtr update = BuildFullUpdate(*snapshot, config::TypeFilter());
  const grpc::ByteBuffer& original = update->chunks[0];
  const grpc::ByteBuffer copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  std::vector<grpc::Slice> original_slices;
  std::vector<grpc::Slice> copy_slices;
  ASSERT_TRUE(original.Dump(&original_slices).ok());
  ASSERT_TRUE(copy.Dump(&copy_slices).ok());
  ASSERT_EQ(original_slices.size(), copy_slices.size());
  ASSERT_EQ(original_slices.size(), 1u);
  EXPECT_EQ(original_slices[0].begin(), copy_slices[0].begin());
  EXPECT_EQ(absl::string_view(reinterpret_cast<const char*>(copy_slices[0].begin()),
                              copy_slices[0].size()),
            absl::string_view(reinterpret_cast<const char*>(original_slices[0].begin()),
                              original_slices[0].size()));
  EXPECT_EQ(copy.Length(), original.Length());
}

}  // namespace
}  // namespace tether::api

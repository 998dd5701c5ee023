#include "sidecar/api/update_builder.h"

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/support/slice.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/constants.h"
#include "protocol/gzip.h"
#include "sidecar/api/proto_convert.h"
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
    EXPECT_EQ(update.chunks.Get(i)->Length(), update.chunks.bytes(i));
    bytes += update.chunks.bytes(i);
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

// The chunks an update must parse to, built with the protobuf API alone from `header` (the
// fields every chunk repeats): items packed in order by each candidate chunk's ByteSizeLong
// counted as if last, metadata on the first chunk, an item that would overflow a chunk with
// content starting the next one, at least one chunk (update_builder.h).
std::vector<v1::WatchResponse> PackWithProtobuf(const v1::WatchResponse& header,
                                                const std::map<std::string, std::string>& metadata,
                                                const std::vector<v1::Entity>& upserts,
                                                const std::vector<v1::EntityRef>& removals,
                                                size_t budget) {
  std::vector<v1::WatchResponse> chunks;
  auto start = [&] {
    v1::WatchResponse& chunk = chunks.emplace_back(header);
    chunk.set_chunk_index(static_cast<uint32_t>(chunks.size() - 1));
    if (chunks.size() == 1) chunk.mutable_metadata()->insert(metadata.begin(), metadata.end());
    chunk.set_last_chunk(true);
  };
  auto add = [&](const std::function<void(v1::WatchResponse&)>& append) {
    const v1::WatchResponse& last = chunks.back();
    const bool has_content = last.upserts_size() + last.removals_size() + last.metadata_size() > 0;
    v1::WatchResponse candidate = last;
    append(candidate);
    if (has_content && candidate.ByteSizeLong() > budget) {
      chunks.back().set_last_chunk(false);
      start();
      append(chunks.back());
    } else {
      chunks.back() = std::move(candidate);
    }
  };
  start();
  for (const v1::Entity& upsert : upserts) {
    add([&](v1::WatchResponse& chunk) { *chunk.add_upserts() = upsert; });
  }
  for (const v1::EntityRef& removal : removals) {
    add([&](v1::WatchResponse& chunk) { *chunk.add_removals() = removal; });
  }
  return chunks;
}

v1::Entity MakeEntity(absl::string_view type, const config::Entity& entity) {
  v1::Entity message;
  message.set_type(std::string(type));
  message.set_id(std::string(entity.id));
  message.set_json(std::string(entity.json));
  return message;
}

// The fields every chunk of an update from `target` repeats, for a filter covering `types`
// (those present in `target`), in type order.
v1::WatchResponse ExpectedHeader(const config::Snapshot& target,
                                 const std::vector<std::string>& types) {
  v1::WatchResponse header;
  header.set_config_hash(target.config_hash);
  (*header.mutable_hashes())["config"] = target.config_hash;
  for (const std::string& type : types) {
    (*header.mutable_hashes())[type] = target.hashes.at(type);
    header.add_entity_types(type);
  }
  SetTimestamp(kReceivedAt, header.mutable_received_at());
  header.set_source(v1::SOURCE_CONTROL_PLANE);
  return header;
}

// Each chunk of `update` parses to the expected message, has its exact serialised size, and
// stays within `budget` unless it holds only the metadata or only an entity with id "big".
void ExpectChunks(const Update& update, const std::vector<v1::WatchResponse>& expected,
                  size_t budget) {
  const std::vector<v1::WatchResponse> chunks = Parse(update);
  ExpectWellFormed(update, chunks);
  ASSERT_GT(expected.size(), 2u);  // the cases below must span several chunks
  ASSERT_EQ(chunks.size(), expected.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("chunk ", i));
    std::string differences;
    bool equal = false;
    {  // the differences reach the string when the differencer goes
      google::protobuf::util::MessageDifferencer differencer;
      differencer.ReportDifferencesToString(&differences);
      equal = differencer.Compare(expected[i], chunks[i]);
    }
    EXPECT_TRUE(equal) << differences;
    EXPECT_EQ(update.chunks.bytes(i), expected[i].ByteSizeLong());
    const int items = chunks[i].upserts_size() + chunks[i].removals_size();
    const bool lone_big =
        items == 1 && chunks[i].upserts_size() == 1 && chunks[i].upserts(0).id() == "big";
    const bool metadata_only = items == 0 && !chunks[i].metadata().empty();
    if (!lone_big && !metadata_only) {
      EXPECT_LE(update.chunks.bytes(i), budget);
    }
  }
}

// A config_table with `metadata` (top-level members, each followed by a comma), routes
// route-<i> for each of `routes` tagged "old", one route `big` of 3000 bytes in the middle when
// `big`, two services and `consumers` consumers (the collection left out when none).
std::string MixedConfig(absl::string_view metadata, const std::vector<int>& routes, bool big,
                        int consumers) {
  std::string json = absl::StrCat(
      "{", metadata, R"("services":[{"id":"s1"},{"id":"s2","name":"two"}],"routes":[)");
  for (size_t i = 0; i < routes.size(); ++i) {
    if (i > 0) json += ',';
    if (big && i == routes.size() / 2) {
      absl::StrAppend(&json, R"({"id":"big","name":")", std::string(3000, 'b'), R"("},)");
    }
    absl::StrAppend(&json, R"({"id":"route-)", routes[i], R"(","paths":["/p)", routes[i],
                    R"("],"service":"s1","tags":["old"]})");
  }
  json += "]";
  if (consumers > 0) {
    json += R"(,"consumers":[)";
    for (int i = 0; i < consumers; ++i) {
      absl::StrAppend(&json, i > 0 ? "," : "", R"({"id":"c)", i, R"("})");
    }
    json += "]";
  }
  return json + "}";
}

std::vector<int> Range(int begin, int end) {
  std::vector<int> values;
  for (int i = begin; i < end; ++i) values.push_back(i);
  return values;
}

// A full update of the example config carries every entity, exactly as decoded, plus the
// snapshot's hashes, metadata, types, source and time, in one chunk.
TEST(UpdateBuilderTest, FullUpdateOfExampleParsesBack) {
  const config::SnapshotPtr snapshot = ExampleSnapshot();
  const UpdatePtr update = BuildFullUpdate(snapshot, config::TypeFilter());
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
  const UpdatePtr update = BuildFullUpdate(snapshot, config::TypeFilter());
  ASSERT_GT(update->chunks.size(), 1u);
  for (size_t i = 0; i < update->chunks.size(); ++i) {
    EXPECT_LE(update->chunks.bytes(i), kDefaultMaxChunkBytes);
    EXPECT_LT(update->chunks.bytes(i), kGrpcDefaultMaxReceiveBytes);
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
  const UpdatePtr update = BuildFullUpdate(snapshot, config::TypeFilter(), kBudget);
  const std::vector<v1::WatchResponse> chunks = Parse(*update);
  ExpectWellFormed(*update, chunks);
  for (size_t i = 0; i < update->chunks.size(); ++i) EXPECT_LE(update->chunks.bytes(i), kBudget);
  EXPECT_LT(chunks.size(), 201u / 4);
}

// An entity bigger than the budget cannot be split: it goes alone in its own chunk, and the
// entities around it still go in chunks within the budget.
TEST(UpdateBuilderTest, OversizedEntityGoesAlone) {
  constexpr size_t kBudget = 2048;
  const std::string big(10000, 'b');
  const config::SnapshotPtr snapshot = Decode(
      absl::StrCat(R"({"routes":[{"id":"r1"},{"id":"r2","name":")", big, R"("},{"id":"r3"}]})"));
  const UpdatePtr update = BuildFullUpdate(snapshot, config::TypeFilter(), kBudget);
  const std::vector<v1::WatchResponse> chunks = Parse(*update);
  ExpectWellFormed(*update, chunks);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].upserts(0).id(), "r1");
  ASSERT_EQ(chunks[1].upserts_size(), 1);
  EXPECT_EQ(chunks[1].upserts(0).id(), "r2");
  EXPECT_GT(update->chunks.bytes(1), kBudget);
  EXPECT_EQ(chunks[2].upserts(0).id(), "r3");
  EXPECT_LE(update->chunks.bytes(2), kBudget);
}

// A filter restricts upserts, entity_types and hashes to the subscribed types ("config" is
// always there); subscribed types absent from the snapshot are not listed.
TEST(UpdateBuilderTest, FilterRestrictsTypesAndHashes) {
  const config::SnapshotPtr snapshot = ExampleSnapshot();
  const UpdatePtr update =
      BuildFullUpdate(snapshot, config::TypeFilter({"routes", "consumers", "nonexistent"}));
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
  const UpdatePtr update = BuildFullUpdate(snapshot, config::TypeFilter({"nonexistent"}));
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
  EXPECT_EQ(BuildDeltaUpdate(base, same, config::TypeFilter()), nullptr);
  const config::SnapshotPtr consumer_changed =
      Decode(R"({"_format_version":"3.0","routes":[{"id":"r1"}],"consumers":[{"id":"c1","x":1}]})");
  EXPECT_EQ(BuildDeltaUpdate(base, consumer_changed, config::TypeFilter({"routes"})), nullptr);
  EXPECT_NE(BuildDeltaUpdate(base, consumer_changed, config::TypeFilter()), nullptr);
}

// A delta names its base, carries upserts and removals, and leaves metadata out when unchanged.
TEST(UpdateBuilderTest, DeltaCarriesChanges) {
  const config::SnapshotPtr base = Decode(
      R"({"_format_version":"3.0","routes":[{"id":"r1"},{"id":"r2"}],"consumers":[{"id":"c1"}]})");
  const config::SnapshotPtr target =
      Decode(R"({"_format_version":"3.0","routes":[{"id":"r1","x":1},{"id":"r3"}]})");
  const UpdatePtr update = BuildDeltaUpdate(base, target, config::TypeFilter());
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
  const UpdatePtr update = BuildDeltaUpdate(base, target, config::TypeFilter({"routes"}));
  ASSERT_NE(update, nullptr);
  const std::vector<v1::WatchResponse> chunks = Parse(*update);
  ExpectWellFormed(*update, chunks);
  EXPECT_THAT(chunks[0].upserts(), IsEmpty());
  EXPECT_THAT(chunks[0].metadata(),
              UnorderedElementsAre(Pair("_format_version", "\"3.1\""), Pair("_transform", "")));
}

// A full update over several chunks, with metadata, an entity too big for a chunk and a filter,
// parses to exactly the chunks protobuf would have built, each at its exact size and in budget.
TEST(UpdateBuilderTest, FullUpdateMatchesProtobufChunks) {
  constexpr size_t kBudget = 2048;
  const config::SnapshotPtr snapshot =
      Decode(MixedConfig(R"("_format_version":"3.0","_transform":false,)", Range(0, 120),
                         /*big=*/true, /*consumers=*/10));
  const std::vector<std::string> types = {"routes", "services"};
  const UpdatePtr update =
      BuildFullUpdate(snapshot, config::TypeFilter({"routes", "services", "absent"}), kBudget);
  v1::WatchResponse header = ExpectedHeader(*snapshot, types);
  header.set_full(true);
  std::vector<v1::Entity> upserts;
  for (const std::string& type : types) {
    for (const config::Entity& entity : snapshot->types.at(type)->items) {
      upserts.push_back(MakeEntity(type, entity));
    }
  }
  ASSERT_EQ(snapshot->metadata.size(), 2u);
  const std::vector<v1::WatchResponse> expected =
      PackWithProtobuf(header, snapshot->metadata, upserts, {}, kBudget);
  // The case covers a chunk holding the big entity alone, over the budget.
  EXPECT_TRUE(std::any_of(expected.begin(), expected.end(), [&](const v1::WatchResponse& chunk) {
    return chunk.upserts_size() == 1 && chunk.upserts(0).id() == "big" &&
           chunk.ByteSizeLong() > kBudget;
  }));
  ExpectChunks(*update, expected, kBudget);
  EXPECT_EQ(update->upserts, upserts.size());
}

// A delta over several chunks, with upserts, removals of a type the target no longer has, a
// filter, and changed metadata bigger than the budget (so the first chunk holds it alone), parses
// to exactly the chunks protobuf would have built.
TEST(UpdateBuilderTest, DeltaUpdateMatchesProtobufChunks) {
  constexpr size_t kBudget = 2048;
  const config::SnapshotPtr base = Decode(MixedConfig(
      R"("_format_version":"3.0","_transform":false,)", Range(0, 150), /*big=*/false, 10));
  // Every seventh route removed, thirty added, every third of the others retagged; consumers all
  // removed.
  std::vector<int> kept;
  for (int i : Range(0, 180)) {
    if (i % 7 != 0 || i >= 150) kept.push_back(i);
  }
  std::string target_table = MixedConfig(
      absl::StrCat(R"("_comment":")", std::string(3000, 'c'), R"(","_format_version":"3.1",)"),
      kept, /*big=*/true, /*consumers=*/0);
  for (int i = 0; i < 150; i += 3) {
    absl::StrReplaceAll({{absl::StrCat(R"("/p)", i, R"("],"service":"s1","tags":["old"])"),
                          absl::StrCat(R"("/p)", i, R"("],"service":"s1","tags":["new"])")}},
                        &target_table);
  }
  const config::SnapshotPtr target = Decode(target_table);
  ASSERT_EQ(target->types.count("consumers"), 0u);
  const UpdatePtr update =
      BuildDeltaUpdate(base, target, config::TypeFilter({"routes", "consumers"}), kBudget);
  ASSERT_NE(update, nullptr);

  v1::WatchResponse header = ExpectedHeader(*target, {"routes"});
  header.set_full(false);
  header.set_base_hash(base->config_hash);
  std::vector<v1::Entity> upserts;
  for (const config::Entity& entity : target->types.at("routes")->items) {
    const config::Entity* before = base->Find("routes", entity.id);
    if (before == nullptr || before->json != entity.json) {
      upserts.push_back(MakeEntity("routes", entity));
    }
  }
  std::vector<v1::EntityRef> removals;
  for (const char* type : {"consumers", "routes"}) {
    for (const config::Entity& entity : base->types.at(type)->items) {
      if (target->Find(type, entity.id) != nullptr) continue;
      v1::EntityRef& removal = removals.emplace_back();
      removal.set_type(type);
      removal.set_id(std::string(entity.id));
    }
  }
  // 42 retagged (multiples of 3, not of 7, below 150), 30 added, big; 10 consumers, 22 routes.
  ASSERT_EQ(upserts.size(), 42u + 30u + 1u);
  ASSERT_EQ(removals.size(), 10u + 22u);
  const std::map<std::string, std::string> metadata = {
      {"_comment", target->metadata.at("_comment")},
      {"_format_version", R"("3.1")"},
      {"_transform", ""}};
  const std::vector<v1::WatchResponse> expected =
      PackWithProtobuf(header, metadata, upserts, removals, kBudget);
  // The case covers a first chunk holding the metadata alone, and chunks mixing upserts and
  // removals.
  EXPECT_EQ(expected[0].upserts_size() + expected[0].removals_size(), 0);
  EXPECT_TRUE(std::any_of(expected.begin(), expected.end(), [](const v1::WatchResponse& chunk) {
    return chunk.upserts_size() > 0 && chunk.removals_size() > 0;
  }));
  ExpectChunks(*update, expected, kBudget);
  EXPECT_EQ(update->upserts, upserts.size());
  EXPECT_EQ(update->removals, removals.size());
}

// Copying an update's ByteBuffer shares its bytes instead of copying them: both copies dump to
// the same memory, so fan-out to many subscribers costs no per-subscriber serialisation.
TEST(UpdateBuilderTest, ByteBufferCopiesShareBytes) {
  const config::SnapshotPtr snapshot = ExampleSnapshot();
  const UpdatePtr update = BuildFullUpdate(snapshot, config::TypeFilter());
  const ChunkPtr chunk = update->chunks.Get(0);
  const grpc::ByteBuffer& original = *chunk;
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

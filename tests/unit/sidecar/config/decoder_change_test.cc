// Decoding a change: what the previous config already has is taken from it, not built again, and
// the snapshot is the one a decode from nothing would give.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/gzip.h"
#include "protocol/kong_hash.h"
#include "sidecar/config/decoder.h"
#include "tests/unit/sidecar/config/decoder_testing.h"

namespace tether::config {
namespace {

absl::StatusOr<DecodeResult> DecodeAfter(const Snapshot& previous, absl::string_view json) {
  return DecodeReconfigure(protocol::Gzip(json), kZeros, DecodeLimits(), Source::kControlPlane,
                           kReceivedAt, &previous);
}

// A collection whose rows are the same bytes as in the config being replaced is taken over from
// it, hash included, instead of being built and hashed again; one differing row, one row more or
// one fewer, and it is built and hashed. A section Kong hashes keeps the message's hash.
TEST(DecoderTest, UnchangedCollectionsAreTakenOverFromThePreviousConfig) {
  const std::vector<std::string> rows = {R"({"id":"c1"})", R"({"id":"c2","n":2})"};
  auto consumers = std::make_shared<EntityCollection>();
  auto routes = std::make_shared<EntityCollection>();
  for (size_t i = 0; i < rows.size(); ++i) {
    const absl::string_view id = i == 0 ? "c1" : "c2";
    consumers->items.push_back(Entity{id, rows[i]});
    routes->items.push_back(Entity{id, rows[i]});
  }
  consumers->BuildIndex();
  routes->BuildIndex();
  // Not the real hashes: only a take-over can produce them.
  consumers->hash = std::string(kHashA);
  routes->hash = std::string(kHashA);
  auto previous = std::make_shared<Snapshot>();
  previous->types.emplace("consumers", consumers);
  previous->types.emplace("routes", routes);
  previous->Keep("previous text");

  const std::string same = absl::StrCat("[", rows[0], ",", rows[1], "]");
  const auto decode = [&](absl::string_view consumer_rows) {
    const std::string table =
        absl::StrCat(R"({"consumers":)", consumer_rows, R"(,"routes":)", same, "}");
    const std::string hashes = absl::StrCat(R"({"routes":")", kHashB, R"("})");
    absl::StatusOr<DecodeResult> result =
        DecodeReconfigure(protocol::Gzip(Message(table, kHashA, hashes)), kZeros, DecodeLimits(),
                          Source::kControlPlane, kReceivedAt, previous.get());
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->snapshot : nullptr;
  };
  const std::shared_ptr<Snapshot> taken = decode(same);
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->types.at("consumers"), consumers);
  EXPECT_EQ(taken->hashes.at("consumers"), kHashA);
  EXPECT_EQ(taken->types.at("routes")->items.size(), 2u);
  EXPECT_EQ(taken->types.at("routes")->hash, kHashB);
  // The previous text stays alive with the new snapshot.
  EXPECT_THAT(taken->blocks(), testing::Contains(previous->blocks().front()));

  const std::string changed = absl::StrCat("[", rows[0], R"(,{"id":"c2","n":3}])");
  const std::string longer = absl::StrCat("[", rows[0], ",", rows[1], R"(,{"id":"c3"}])");
  const std::string shorter = absl::StrCat("[", rows[0], "]");
  for (const std::string& other : {changed, longer, shorter}) {
    SCOPED_TRACE(other);
    const std::shared_ptr<Snapshot> built = decode(other);
    ASSERT_NE(built, nullptr);
    EXPECT_NE(built->types.at("consumers"), consumers);
    EXPECT_EQ(built->types.at("consumers")->hash, protocol::KongHashValue(Parse(other)));
    EXPECT_EQ(built->types.at("consumers")->Find("c1")->json, rows[0]);
  }
}

// In a collection that changed, every row the previous config has byte for byte is its entity,
// viewing its text, wherever it moved; only the new rows are copied.
TEST(DecoderTest, UnchangedRowsViewThePreviousConfig) {
  const std::string table = R"({"routes":[{"id":"a"},{"id":"b","n":1},{"id":"c"}]})";
  absl::StatusOr<DecodeResult> first = Decode(Message(table));
  ASSERT_TRUE(first.ok()) << first.status();
  const Snapshot& previous = *first->snapshot;
  // "b" changed, "c" moved to the front, "d" is new.
  const std::string next = R"({"routes":[{"id":"c"},{"id":"a"},{"id":"b","n":2},{"id":"d"}]})";
  absl::StatusOr<DecodeResult> second =
      DecodeReconfigure(protocol::Gzip(Message(next)), kZeros, DecodeLimits(),
                        Source::kControlPlane, kReceivedAt, &previous);
  ASSERT_TRUE(second.ok()) << second.status();
  const Snapshot& snapshot = *second->snapshot;
  for (const char* id : {"a", "c"}) {
    SCOPED_TRACE(id);
    EXPECT_EQ(snapshot.Find("routes", id)->json.data(), previous.Find("routes", id)->json.data());
    EXPECT_EQ(snapshot.Find("routes", id)->id.data(), previous.Find("routes", id)->id.data());
  }
  EXPECT_EQ(snapshot.Find("routes", "b")->json, R"({"id":"b","n":2})");
  EXPECT_EQ(snapshot.Find("routes", "d")->json, R"({"id":"d"})");
  // The new rows are the snapshot's own text; the previous config's is kept with it.
  EXPECT_EQ(*snapshot.blocks().front(), R"({"id":"b","n":2}{"id":"d"})");
  EXPECT_THAT(snapshot.blocks(), testing::Contains(previous.blocks().front()));
}

// A change of a config large enough to be read through the window, with rows inserted, removed,
// changed and moved, in a collection Kong hashes and one tether hashes: the snapshot is the one a
// decode from nothing gives, and every row the previous config has views its text.
TEST(DecoderTest, ChangesOfALargeConfigDecodeAsFromNothing) {
  const auto row = [](absl::string_view prefix, int i, absl::string_view extra = "") {
    return absl::StrCat(R"({"id":")", prefix, i, R"(","n":)", i, extra, R"(,"pad":")",
                        std::string(200 + i % 7, 'p'), R"("})");
  };
  const auto table = [](const std::vector<std::string>& consumers,
                        const std::vector<std::string>& routes) {
    return absl::StrCat(R"({"consumers":[)", absl::StrJoin(consumers, ","), R"(],"routes":[)",
                        absl::StrJoin(routes, ","), "]}");
  };
  std::vector<std::string> consumers, routes;
  for (int i = 0; i < 4000; ++i) consumers.push_back(row("c", i));
  for (int i = 0; i < 2000; ++i) routes.push_back(row("r", i));
  absl::StatusOr<DecodeResult> first = Decode(Message(table(consumers, routes)));
  ASSERT_TRUE(first.ok()) << first.status();
  const Snapshot& previous = *first->snapshot;

  consumers.insert(consumers.begin(), row("new", 0));
  consumers.erase(consumers.begin() + 100);
  consumers[2000] = row("c", 2000, R"(,"changed":true)");
  std::rotate(consumers.begin() + 3000, consumers.begin() + 3001, consumers.end());
  routes[1999] = row("r", 1999, R"(,"changed":true)");
  const std::string next = Message(table(consumers, routes));
  ASSERT_GT(next.size(), size_t{1} << 20);  // read through the window
  absl::StatusOr<DecodeResult> change = DecodeAfter(previous, next);
  ASSERT_TRUE(change.ok()) << change.status();
  absl::StatusOr<DecodeResult> fresh = Decode(next);
  ASSERT_TRUE(fresh.ok()) << fresh.status();

  for (const char* type : {"consumers", "routes"}) {
    SCOPED_TRACE(type);
    const EntityCollection& got = *change->snapshot->types.at(type);
    const EntityCollection& want = *fresh->snapshot->types.at(type);
    EXPECT_EQ(got.hash, want.hash);
    ASSERT_EQ(got.items.size(), want.items.size());
    for (size_t i = 0; i < got.items.size(); ++i) {
      ASSERT_EQ(got.items[i].id, want.items[i].id) << i;
      ASSERT_EQ(got.items[i].json, want.items[i].json) << i;
      ASSERT_EQ(got.Find(got.items[i].id), &got.items[i]) << i;
      const Entity* before = previous.Find(type, got.items[i].id);
      if (before != nullptr && before->json == got.items[i].json) {
        ASSERT_EQ(got.items[i].json.data(), before->json.data()) << i;
      }
    }
  }
  EXPECT_EQ(change->snapshot->hashes, fresh->snapshot->hashes);
  EXPECT_EQ(change->snapshot->config_hash, fresh->snapshot->config_hash);
}

// A row that starts where the previous config's next row did, with its bytes, is that row: it is
// compared, not parsed again (an entity whose id disagrees with its text, which the decoder
// never makes, shows which way it went). What follows the row is parsed as ever.
TEST(DecoderTest, RowsThePreviousConfigHasInPlaceAreComparedNotParsed) {
  const std::string rows[] = {R"({"id":"a","n":1})", R"({"id":"b"})"};
  auto routes = std::make_shared<EntityCollection>();
  routes->items.push_back(Entity{"x", rows[0]});
  routes->items.push_back(Entity{"b", rows[1]});
  routes->BuildIndex();
  Snapshot previous;
  previous.types.emplace("routes", routes);

  absl::StatusOr<DecodeResult> same =
      DecodeAfter(previous, Message(absl::StrCat(R"({"routes":[)", rows[0], ",", rows[1], "]}")));
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->snapshot->types.at("routes")->items[0].id, "x");

  // Moved, the row is found by the id its text gives.
  absl::StatusOr<DecodeResult> moved =
      DecodeAfter(previous, Message(absl::StrCat(R"({"routes":[)", rows[1], ",", rows[0], "]}")));
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->snapshot->types.at("routes")->items[1].id, "a");

  absl::StatusOr<DecodeResult> broken =
      DecodeAfter(previous, Message(absl::StrCat(R"({"routes":[)", rows[0], " ", rows[1], "]}")));
  EXPECT_FALSE(broken.ok());
}

}  // namespace
}  // namespace tether::config

#include "sidecar/config/decoder.h"

#include <openssl/evp.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/constants.h"
#include "protocol/gzip.h"
#include "protocol/kong_hash.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tests/unit/sidecar/config/decoder_testing.h"

namespace tether::config {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string Compact(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string Md5Hex(absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), out, &length, EVP_md5(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(out), length));
}

// The example config as tether-devcp would push it: with the CP's config_hash and hashes.
class ExampleConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_json_ = ReadFile(std::string(TETHER_SOURCE_DIR) + "/deploy/examples/kong-config.json");
    table_ = Parse(table_json_);
    ASSERT_TRUE(table_.IsObject());
    expected_ = protocol::CalculateConfigHash(table_);
    rapidjson::Document hashes(rapidjson::kObjectType);
    for (const auto& [key, value] : expected_.hashes) {
      hashes.AddMember(rapidjson::Value(key.c_str(), hashes.GetAllocator()),
                       rapidjson::Value(value.c_str(), hashes.GetAllocator()),
                       hashes.GetAllocator());
    }
    message_ = Message(table_json_, expected_.config_hash, Compact(hashes));
  }

  std::string table_json_;
  rapidjson::Document table_;
  protocol::ConfigHashes expected_;
  std::string message_;
};

// Every collection of the example decodes with its rows, in order, and the totals add up.
TEST_F(ExampleConfigTest, DecodesEveryCollection) {
  const std::string frame = protocol::Gzip(message_);
  absl::StatusOr<DecodeResult> result =
      DecodeReconfigure(frame, kZeros, DecodeLimits(), Source::kControlPlane, kReceivedAt);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->kind, DecodeResult::Kind::kNewSnapshot);
  ASSERT_NE(result->snapshot, nullptr);
  const Snapshot& snapshot = *result->snapshot;

  size_t total = 0;
  for (const auto& member : table_.GetObject()) {
    if (!member.value.IsArray()) continue;
    SCOPED_TRACE(member.name.GetString());
    ASSERT_EQ(snapshot.types.count(member.name.GetString()), 1u);
    const EntityCollection& collection = *snapshot.types.at(member.name.GetString());
    ASSERT_EQ(collection.items.size(), member.value.Size());
    total += member.value.Size();
  }
  EXPECT_EQ(snapshot.types.size(), 12u);
  EXPECT_EQ(snapshot.EntityCount(), total);
  EXPECT_EQ(snapshot.types.at("services")->items.size(), 3u);
  EXPECT_EQ(snapshot.types.at("routes")->items.size(), 4u);
  EXPECT_EQ(snapshot.types.at("plugins")->items.size(), 4u);
  EXPECT_EQ(snapshot.types.at("targets")->items.size(), 2u);

  EXPECT_EQ(snapshot.source, Source::kControlPlane);
  EXPECT_EQ(snapshot.received_at, kReceivedAt);
  EXPECT_EQ(snapshot.compressed_bytes, frame.size());
  EXPECT_EQ(snapshot.decoded_bytes, message_.size());
  EXPECT_GE(snapshot.decode_duration, absl::ZeroDuration());
  ASSERT_TRUE(snapshot.cp_timestamp.has_value());
  EXPECT_DOUBLE_EQ(*snapshot.cp_timestamp, 1718000099.125);
}

// Each entity keeps its id and its row's text exactly as sent (here pretty-printed), which parses
// back to the original row; Find locates it.
TEST_F(ExampleConfigTest, EntitiesRoundTrip) {
  absl::StatusOr<DecodeResult> result = Decode(message_);
  ASSERT_TRUE(result.ok()) << result.status();
  const Snapshot& snapshot = *result->snapshot;
  for (const auto& member : table_.GetObject()) {
    if (!member.value.IsArray()) continue;
    const std::string type = member.name.GetString();
    const char* key = type == "parameters" ? "key" : "id";
    const EntityCollection& collection = *snapshot.types.at(type);
    for (rapidjson::SizeType i = 0; i < member.value.Size(); ++i) {
      SCOPED_TRACE(absl::StrCat(type, "[", i, "]"));
      const rapidjson::Value& row = member.value[i];
      const Entity& entity = collection.items[i];
      EXPECT_EQ(entity.id, row[key].GetString());
      EXPECT_NE(table_json_.find(std::string(entity.json)), std::string::npos);
      EXPECT_TRUE(Parse(entity.json) == row);
      EXPECT_EQ(collection.Find(entity.id), &entity);
      EXPECT_EQ(snapshot.Find(type, entity.id), &entity);
    }
  }
  EXPECT_EQ(snapshot.Find("routes", "no-such-id"), nullptr);
  EXPECT_EQ(snapshot.Find("no-such-type", "x"), nullptr);
}

// Scalars and `_` keys become metadata; the snapshot's hashes are the message's plus computed
// ones for the types Kong does not hash.
TEST_F(ExampleConfigTest, KeepsMetadataAndHashes) {
  absl::StatusOr<DecodeResult> result = Decode(message_);
  ASSERT_TRUE(result.ok()) << result.status();
  const Snapshot& snapshot = *result->snapshot;
  EXPECT_EQ(result->config_hash, expected_.config_hash);
  EXPECT_EQ(snapshot.config_hash, expected_.config_hash);
  EXPECT_EQ(snapshot.metadata.size(), 2u);
  EXPECT_EQ(snapshot.metadata.at("_format_version"), "\"3.0\"");
  EXPECT_EQ(snapshot.metadata.at("_transform"), "false");

  for (const auto& [key, value] : expected_.hashes) {
    SCOPED_TRACE(key);
    EXPECT_EQ(snapshot.hashes.at(key), value);
  }
  for (const auto& [type, collection] : snapshot.types) {
    SCOPED_TRACE(type);
    EXPECT_EQ(collection->hash, protocol::KongHashValue(table_[type.c_str()]));
    EXPECT_EQ(snapshot.hashes.at(type), collection->hash);
  }
  EXPECT_EQ(snapshot.hashes.size(), 1 + snapshot.types.size());  // config + one per type
}

// Kong 2.x sends no config_hash: the decoder computes it and all hashes with Kong's algorithm.
TEST_F(ExampleConfigTest, ComputesHashWhenAbsent) {
  absl::StatusOr<DecodeResult> result = Decode(Message(table_json_));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->config_hash, expected_.config_hash);
  for (const auto& [key, value] : expected_.hashes) {
    SCOPED_TRACE(key);
    EXPECT_EQ(result->snapshot->hashes.at(key), value);
  }
}

// A message whose hash is already applied is reported as such, without a snapshot.
TEST_F(ExampleConfigTest, ReportsSameHash) {
  absl::StatusOr<DecodeResult> result = Decode(message_, expected_.config_hash);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->kind, DecodeResult::Kind::kSameHash);
  EXPECT_EQ(result->config_hash, expected_.config_hash);
  EXPECT_EQ(result->snapshot, nullptr);
}

// The same-hash check comes before entities are built, so their errors cannot surface then.
TEST(DecoderTest, SameHashSkipsEntityValidation) {
  absl::StatusOr<DecodeResult> result = Decode(Message(R"({"routes":[1]})", kHashA), kHashA);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->kind, DecodeResult::Kind::kSameHash);
}

// Messages of another type are ignored, whatever else they hold.
TEST(DecoderTest, IgnoresOtherTypes) {
  absl::StatusOr<DecodeResult> result = Decode(R"({"type":"ping","config_table":42})");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->kind, DecodeResult::Kind::kIgnoredType);
  EXPECT_EQ(result->message_type, "ping");
  EXPECT_EQ(result->snapshot, nullptr);
}

// Missing `hashes` keys become 32 zeros, as in Kong's fill_empty_hashes.
TEST(DecoderTest, FillsMissingHashes) {
  absl::StatusOr<DecodeResult> result =
      Decode(Message(R"({"routes":[{"id":"r1"}]})", kHashA,
                     absl::StrCat(R"({"config":")", kHashA, R"(","plugins":")", kHashB, "\"}")));
  ASSERT_TRUE(result.ok()) << result.status();
  const Snapshot& snapshot = *result->snapshot;
  EXPECT_EQ(snapshot.hashes.at("config"), kHashA);
  EXPECT_EQ(snapshot.hashes.at("plugins"), kHashB);
  for (const char* key : {"routes", "services", "upstreams", "targets"}) {
    EXPECT_EQ(snapshot.hashes.at(key), kZeros) << key;
  }
  EXPECT_EQ(snapshot.types.at("routes")->hash, kZeros);
}

// A rejected message's config_hash travels with the error, when it was read, and so does the
// typed cause of every error.
TEST(DecoderTest, ErrorsCarryRejectedHash) {
  absl::StatusOr<DecodeResult> with_hash = Decode(Message(R"({"routes":[{}]})", kHashA));
  ASSERT_FALSE(with_hash.ok());
  EXPECT_EQ(RejectionOf(with_hash.status()).config_hash, kHashA);

  absl::StatusOr<DecodeResult> computed = Decode(Message(R"({"routes":[{}]})"));
  ASSERT_FALSE(computed.ok());
  EXPECT_EQ(RejectionOf(computed.status()).config_hash,
            protocol::CalculateConfigHash(Parse(R"({"routes":[{}]})")).config_hash);

  absl::StatusOr<DecodeResult> unreadable = Decode("{");
  ASSERT_FALSE(unreadable.ok());
  EXPECT_THAT(RejectionOf(unreadable.status()).config_hash, IsEmpty());
  EXPECT_THAT(RejectionOf(absl::OkStatus()).config_hash, IsEmpty());

  EXPECT_EQ(RejectionOf(with_hash.status()).cause, RejectCause::kShape);
  EXPECT_EQ(RejectionOf(unreadable.status()).cause, RejectCause::kJson);
  EXPECT_EQ(RejectionOf(DecodeReconfigure("not gzip", kZeros, DecodeLimits(), Source::kControlPlane,
                                          kReceivedAt)
                            .status())
                .cause,
            RejectCause::kGzip);
}

// An entity's JSON keeps the key order it was sent in (deltas, not the decoder, treat a reordered
// row as unchanged: DeltaTest.ReorderedKeysAreNotAChange).
TEST(DecoderTest, JsonKeepsKeyOrder) {
  absl::StatusOr<DecodeResult> a =
      Decode(Message(R"({"services":[{"id":"s1","port":80,"tags":["a","b"],"host":"h"}]})"));
  absl::StatusOr<DecodeResult> b =
      Decode(Message(R"({"services":[{"host":"h","tags":["a","b"],"port":80,"id":"s1"}]})"));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  const Entity* ea = a->snapshot->Find("services", "s1");
  const Entity* eb = b->snapshot->Find("services", "s1");
  ASSERT_NE(ea, nullptr);
  ASSERT_NE(eb, nullptr);
  EXPECT_NE(ea->json, eb->json);
  EXPECT_EQ(ea->json, R"({"id":"s1","port":80,"tags":["a","b"],"host":"h"})");
}

// Rows are served byte for byte as the CP sent them (whitespace, escapes and all), whatever comes
// around them: arrays of objects that are metadata, objects nested in rows, an object member of
// config_table holding objects, and an earlier config_table that the last one replaces.
TEST(DecoderTest, ServesRowsAsSent) {
  const std::string s1 = R"({ "id" : "s1", "path": "\/a\u00e9", "nested": [{"a": {"b": [{}]}}] })";
  const std::string s2 = "{\"id\":\"s2\",\n  \"tags\": [ ]}";
  const std::string r1 = R"({"id":"r1","service":{"id":"s1"}})";
  const std::string table = absl::StrCat(
      R"({"_extra":[{"id":"not-a-row"},1,{"x":{}}],"_meta":{"a":{"id":"m"},"b":[{"id":"m2"}]},)",
      R"("services":[)", s1, ",\t", s2, R"(],"routes":[)", r1, "]}");
  absl::StatusOr<DecodeResult> result = Decode(absl::StrCat(
      R"({"type":"reconfigure","config_table":{"services":[{"id":"old"}]},"config_table":)", table,
      "}"));
  ASSERT_TRUE(result.ok()) << result.status();
  const Snapshot& snapshot = *result->snapshot;
  ASSERT_NE(snapshot.Find("services", "s1"), nullptr);
  ASSERT_NE(snapshot.Find("services", "s2"), nullptr);
  ASSERT_NE(snapshot.Find("routes", "r1"), nullptr);
  EXPECT_EQ(snapshot.Find("services", "old"), nullptr);
  EXPECT_EQ(snapshot.Find("services", "s1")->json, s1);
  EXPECT_EQ(snapshot.Find("services", "s2")->json, s2);
  EXPECT_EQ(snapshot.Find("routes", "r1")->json, r1);
  EXPECT_EQ(snapshot.metadata.at("_extra"), R"([{"id":"not-a-row"},1,{"x":{}}])");
  EXPECT_EQ(snapshot.EntityCount(), 3u);
}

// An id sent with escapes is decoded (Find takes the decoded id), whether or not the decoded text
// happens to equal the start of the raw one.
TEST(DecoderTest, DecodesEscapedIds) {
  absl::StatusOr<DecodeResult> result = Decode(Message(
      R"({"x":[{"id":"a\/b"},{"id":"\\\\"},{"id":"\\"},{"id":"q\"q"},{"id":"\u0041"},{"id":"A\\"}]})"));
  ASSERT_TRUE(result.ok()) << result.status();
  const EntityCollection& x = *result->snapshot->types.at("x");
  ASSERT_EQ(x.items.size(), 6u);
  EXPECT_EQ(x.items[0].id, "a/b");
  EXPECT_EQ(x.items[1].id, "\\\\");
  EXPECT_EQ(x.items[2].id, "\\");
  EXPECT_EQ(x.items[3].id, "q\"q");
  EXPECT_EQ(x.items[4].id, "A");
  EXPECT_EQ(x.items[5].id, "A\\");
  for (const Entity& entity : x.items) EXPECT_EQ(x.Find(entity.id), &entity);
  EXPECT_EQ(x.items[0].json, R"({"id":"a\/b"})");
}

// Enough bytes that the hashes of the types Kong does not hash are worked out by a helper thread:
// each is still Kong's hash of its rows, and a bad row met meanwhile fails the decode cleanly.
TEST(DecoderTest, HashesLargeCollectionsAlongsideEntities) {
  auto rows = [](absl::string_view prefix, int count) {
    std::string out = "[";
    for (int i = 0; i < count; ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", R"({"id":")", prefix, i, R"(","n":)", i,
                      R"(,"tags":["a","b"],"pad":")", std::string(200, 'p'), R"("})");
    }
    return absl::StrCat(out, "]");
  };
  const std::string table = absl::StrCat(
      R"({"consumers":)", rows("c", 3000), R"(,"keyauth_credentials":)", rows("k", 2000),
      R"(,"acls":)", rows("a", 7), R"(,"services":)", rows("s", 10), "}");
  absl::StatusOr<DecodeResult> result = Decode(Message(table));
  ASSERT_TRUE(result.ok()) << result.status();
  const Snapshot& snapshot = *result->snapshot;
  const rapidjson::Document parsed = Parse(table);
  for (const char* type : {"consumers", "keyauth_credentials", "acls"}) {
    SCOPED_TRACE(type);
    const std::string want = protocol::KongHashValue(parsed[type]);
    EXPECT_EQ(snapshot.types.at(type)->hash, want);
    EXPECT_EQ(snapshot.hashes.at(type), want);
  }
  EXPECT_EQ(snapshot.EntityCount(), 5017u);

  const std::string bad =
      absl::StrCat(R"({"consumers":)", rows("c", 3000), R"(,"routes":[{"id":"r"},{"id":"r"}]})");
  absl::StatusOr<DecodeResult> refused = Decode(Message(bad));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("duplicate id"));
}

// The snapshot keeps the rows' text and nothing else of the message: rows are copied out of the
// inflate window into a block the snapshot keeps, ids sent without escapes view their row, and
// only an escaped id is kept as a decoded copy beside it.
TEST(DecoderTest, RowsAndIdsViewTheTextTheSnapshotKeeps) {
  const std::string message =
      Message(R"({"services":[{"id":"s1"},{"id":"s2","n":1}],"routes":[{"id":"r\u0031"}]})");
  absl::StatusOr<DecodeResult> result = Decode(message);
  ASSERT_TRUE(result.ok()) << result.status();
  const Snapshot& snapshot = *result->snapshot;
  ASSERT_EQ(snapshot.blocks().size(), 2u);
  const std::string& text = *snapshot.blocks()[0];
  EXPECT_EQ(text, R"({"id":"s1"}{"id":"s2","n":1}{"id":"r\u0031"})");
  EXPECT_EQ(snapshot.decoded_bytes, message.size());
  const auto inside = [&text](absl::string_view view) {
    return view.data() >= text.data() && view.data() + view.size() <= text.data() + text.size();
  };
  for (const char* id : {"s1", "s2"}) {
    const Entity* entity = snapshot.Find("services", id);
    ASSERT_NE(entity, nullptr) << id;
    EXPECT_TRUE(inside(entity->id)) << id;
    EXPECT_TRUE(inside(entity->json)) << id;
  }
  const Entity* escaped = snapshot.Find("routes", "r1");
  ASSERT_NE(escaped, nullptr);
  EXPECT_FALSE(inside(escaped->id));
  EXPECT_EQ(*snapshot.blocks()[1], "r1");
  EXPECT_TRUE(inside(escaped->json));
}

// Rows far larger than the inflate window, and ids that end near a refill, come out whole: the
// window keeps the row being read, however long, and grows for it.
TEST(DecoderTest, RowsLongerThanTheWindowComeOutWhole) {
  std::string table = R"({"plugins":[)";
  std::vector<std::string> rows;
  // Over a MiB in all, so that the message is read through the window.
  for (size_t pad : {size_t{10}, size_t{900} << 10, size_t{3}, size_t{400} << 10, size_t{1}}) {
    rows.push_back(absl::StrCat(R"({"config":")", std::string(pad, 'x'), R"(","id":"p)",
                                rows.size(), R"("})"));
    absl::StrAppend(&table, rows.size() == 1 ? "" : ",", rows.back());
  }
  absl::StrAppend(&table, "]}");
  absl::StatusOr<DecodeResult> result = Decode(Message(table));
  ASSERT_TRUE(result.ok()) << result.status();
  for (size_t i = 0; i < rows.size(); ++i) {
    const Entity* entity = result->snapshot->Find("plugins", absl::StrCat("p", i));
    ASSERT_NE(entity, nullptr) << i;
    EXPECT_EQ(entity->json, rows[i]);
  }
}

// A Lua table's keys come in any order: the type, hashes and config_hash may follow config_table,
// and a message turns out to be of another type (ignored, however broken its config_table) or
// the applied config (not an error, however broken) only once it has been read whole.
TEST(DecoderTest, ReadsKeysInAnyOrder) {
  const std::string table = R"({"services":[{"id":"s1"}],"consumers":[{"id":"c1"}]})";
  const std::string hashes = absl::StrCat(R"({"services":")", kHashA, R"("})");
  absl::StatusOr<DecodeResult> result =
      Decode(absl::StrCat(R"({"config_table":)", table, R"(,"hashes":)", hashes,
                          R"(,"config_hash":")", kHashB, R"(","type":"reconfigure"})"));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->kind, DecodeResult::Kind::kNewSnapshot);
  EXPECT_EQ(result->snapshot->config_hash, kHashB);
  EXPECT_EQ(result->snapshot->hashes.at("services"), kHashA);
  EXPECT_EQ(result->snapshot->types.at("services")->hash, kHashA);
  EXPECT_EQ(result->snapshot->types.at("consumers")->hash,
            protocol::KongHashValue(Parse(R"([{"id":"c1"}])")));

  const std::string broken = R"({"services":[{"id":"a"},{"id":"a"}]})";
  result = Decode(absl::StrCat(R"({"config_table":)", broken, R"(,"type":"ping"})"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->kind, DecodeResult::Kind::kIgnoredType);
  EXPECT_EQ(result->message_type, "ping");

  result = Decode(absl::StrCat(R"({"config_table":)", broken, R"(,"config_hash":")", kHashB,
                               R"(","type":"reconfigure"})"),
                  kHashB);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->kind, DecodeResult::Kind::kSameHash);
}

// A repeated config_table replaces the first, even while the helper thread is hashing the first's
// collections (enough rows to start it): the snapshot and its hashes are the last table's.
TEST(DecoderTest, RepeatedConfigTableReplacesTheFirstWhileItIsHashed) {
  std::string first = R"({"consumers":[)";
  for (int i = 0; i < 5000; ++i) {
    absl::StrAppend(&first, i == 0 ? "" : ",", R"({"id":"c)", i, R"(","pad":")",
                    std::string(200, 'p'), R"("})");
  }
  absl::StrAppend(&first, "]}");
  const std::string last = R"({"consumers":[{"id":"only"}]})";
  absl::StatusOr<DecodeResult> result = Decode(absl::StrCat(
      R"({"type":"reconfigure","config_table":)", first, R"(,"config_table":)", last, "}"));
  ASSERT_TRUE(result.ok()) << result.status();
  const EntityCollection& consumers = *result->snapshot->types.at("consumers");
  ASSERT_EQ(consumers.items.size(), 1u);
  EXPECT_EQ(consumers.hash, protocol::KongHashValue(Parse(R"([{"id":"only"}])")));
  EXPECT_EQ(result->snapshot->hashes.at("consumers"), consumers.hash);
}

// Numbers keep what Kong would hash: -0 stays negative, and formatting follows "%.14g"; the row
// is served with the CP's own text for them.
TEST(DecoderTest, NumbersHashLikeKong) {
  const std::string row = R"({"id":"a","n":-0,"big":1e20,"f":0.90,"i":10,"tiny":1e-400})";
  absl::StatusOr<DecodeResult> result = Decode(Message(absl::StrCat(R"({"x":[)", row, "]}")));
  ASSERT_TRUE(result.ok()) << result.status();
  const Entity* entity = result->snapshot->Find("x", "a");
  ASSERT_NE(entity, nullptr);
  EXPECT_EQ(entity->json, row);
  EXPECT_EQ(result->snapshot->types.at("x")->hash,
            Md5Hex("big:1e+20;f:0.9;i:10;id:a;n:-0;tiny:0;"));
}

// `parameters` rows are keyed by `key`, not `id`.
TEST(DecoderTest, ParametersAreKeyedByKey) {
  absl::StatusOr<DecodeResult> result =
      Decode(Message(R"({"parameters":[{"key":"cluster_id","value":"c0ffee"}]})"));
  ASSERT_TRUE(result.ok()) << result.status();
  const Entity* entity = result->snapshot->Find("parameters", "cluster_id");
  ASSERT_NE(entity, nullptr);
  EXPECT_EQ(entity->id, "cluster_id");
}

// An empty array is kept as an empty collection (the CP omits empty ones, so it was meant), and
// hashed as Kong would ({}).
TEST(DecoderTest, KeepsEmptyCollections) {
  absl::StatusOr<DecodeResult> result = Decode(Message(R"({"consumers":[],"routes":[]})"));
  ASSERT_TRUE(result.ok()) << result.status();
  const Snapshot& snapshot = *result->snapshot;
  ASSERT_EQ(snapshot.types.count("consumers"), 1u);
  EXPECT_TRUE(snapshot.types.at("consumers")->items.empty());
  EXPECT_EQ(snapshot.hashes.at("consumers"), Md5Hex("{}"));
  EXPECT_EQ(snapshot.hashes.at("routes"), Md5Hex("{}"));
  EXPECT_EQ(snapshot.EntityCount(), 0u);
}

// Objects and other non-arrays under config_table are metadata, like `_` keys, even arrays.
TEST(DecoderTest, NonArraysAreMetadata) {
  absl::StatusOr<DecodeResult> result =
      Decode(Message(R"({"_comment":"hi","_ignore":[{"no":"id"}],"obj":{"a":1},"n":null})"));
  ASSERT_TRUE(result.ok()) << result.status();
  const Snapshot& snapshot = *result->snapshot;
  EXPECT_TRUE(snapshot.types.empty());
  EXPECT_EQ(snapshot.metadata.at("_comment"), "\"hi\"");
  EXPECT_EQ(snapshot.metadata.at("_ignore"), R"([{"no":"id"}])");
  EXPECT_EQ(snapshot.metadata.at("obj"), R"({"a":1})");
  EXPECT_EQ(snapshot.metadata.at("n"), "null");
}

}  // namespace
}  // namespace tether::config

#include "bench/config_generator.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protocol/constants.h"
#include "rapidjson/document.h"
#include "sidecar/config/decoder.h"
#include "sidecar/config/delta.h"

namespace tether::bench {
namespace {

config::SnapshotPtr Decode(const ConfigShape& shape, uint64_t revision) {
  absl::StatusOr<std::string> frame = MakeReconfigureFrame(GenerateConfigTable(shape, revision));
  EXPECT_TRUE(frame.ok()) << frame.status();
  if (!frame.ok()) return nullptr;
  absl::StatusOr<config::DecodeResult> result =
      config::DecodeReconfigure(*frame, protocol::kEmptyConfigHash, config::DecodeLimits(),
                                config::Source::kControlPlane, absl::FromUnixSeconds(1718000000));
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return nullptr;
  return result->snapshot;
}

// Every preset decodes in tether into exactly the entities its shape counts, one collection per
// kind of row, and the same shape and revision always give the same bytes.
TEST(ConfigGeneratorTest, PresetsDecodeToTheirShape) {
  for (Preset preset : {Preset::kSmall, Preset::kMedium}) {
    SCOPED_TRACE(PresetName(preset));
    const ConfigShape shape = PresetShape(preset);
    EXPECT_EQ(GenerateConfigTable(shape), GenerateConfigTable(shape));
    const config::SnapshotPtr snapshot = Decode(shape, 0);
    ASSERT_NE(snapshot, nullptr);
    EXPECT_EQ(snapshot->EntityCount(), shape.EntityCount());
    std::set<std::string> types;
    for (const auto& [type, collection] : snapshot->types) types.insert(type);
    EXPECT_THAT(types, ::testing::ElementsAre("certificates", "consumers", "keyauth_credentials",
                                              "parameters", "plugins", "routes", "services", "snis",
                                              "targets", "upstreams", "workspaces"));
    EXPECT_EQ(snapshot->types.at("routes").items.size(), shape.routes);
    EXPECT_EQ(snapshot->types.at("snis").items.size(), shape.certificates);
  }
  EXPECT_EQ(ParsePreset("large"), Preset::kLarge);
  EXPECT_EQ(ParsePreset("huge"), std::nullopt);
}

// The CP push form (kong-protocol.md §7.3): all rows of one type carry the same fields, unset
// ones as null, and foreign keys are bare ids of rows that exist.
TEST(ConfigGeneratorTest, RowsAreFlatAndComplete) {
  const std::string json = GenerateConfigTable(PresetShape(Preset::kSmall));
  rapidjson::Document table;
  table.Parse(json.data(), json.size());
  ASSERT_FALSE(table.HasParseError());
  std::set<std::string> service_ids;
  for (const auto& row : table["services"].GetArray()) service_ids.insert(row["id"].GetString());
  for (const auto& member : table.GetObject()) {
    if (!member.value.IsArray()) continue;
    SCOPED_TRACE(member.name.GetString());
    std::set<std::string> first_keys;
    for (const auto& row : member.value.GetArray()) {
      std::set<std::string> keys;
      for (const auto& field : row.GetObject()) keys.insert(field.name.GetString());
      if (first_keys.empty()) first_keys = keys;
      EXPECT_EQ(keys, first_keys);
    }
  }
  for (const auto& route : table["routes"].GetArray()) {
    EXPECT_TRUE(service_ids.count(route["service"].GetString())) << route["service"].GetString();
  }
}

// Revision r+1 changes exactly one route of revision r, cycling through them: the "one change
// pushed" of the load tool.
TEST(ConfigGeneratorTest, EachRevisionChangesOneRoute) {
  const ConfigShape shape = PresetShape(Preset::kSmall);
  config::SnapshotPtr previous = Decode(shape, 0);
  ASSERT_NE(previous, nullptr);
  for (uint64_t revision = 1; revision <= shape.routes + 2; ++revision) {
    SCOPED_TRACE(absl::StrCat("revision ", revision));
    const config::SnapshotPtr next = Decode(shape, revision);
    ASSERT_NE(next, nullptr);
    const config::Delta delta = config::ComputeDelta(*previous, *next, config::TypeFilter());
    ASSERT_EQ(delta.upserts.size(), 1u);
    EXPECT_EQ(delta.upserts[0].type, "routes");
    EXPECT_EQ(delta.upserts[0].entity->id,
              previous->types.at("routes").items[(revision - 1) % shape.routes].id);
    EXPECT_TRUE(delta.removals.empty());
    EXPECT_NE(next->config_hash, previous->config_hash);
    previous = next;
  }
}

}  // namespace
}  // namespace tether::bench

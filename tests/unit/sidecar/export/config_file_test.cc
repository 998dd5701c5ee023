// The --write-config file: Kong's declarative config with the CP's entity text byte for byte,
// filtered by type, the same in YAML, and written 0600 and atomically.
#include "sidecar/export/config_file.h"

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/testing/testing.h"
#include "tests/unit/sidecar/api/snapshots.h"
#include "yaml-cpp/yaml.h"

namespace tether::exporter {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Spacing and number spellings a re-serialiser would change.
constexpr char kService[] =
    R"({"id":"s1", "name":"svc","retries":5,"weight":1.50,"tags":["true"]})";
constexpr char kRoute[] =
    R"({"id":"r1","name":"on","paths":["/a"],"service":{"id":"s1"},"strip_path":false,"x":null})";

std::string Table() {
  return absl::StrCat(R"({"_format_version":"3.0","_transform":false,"services":[)", kService,
                      R"(],"routes":[)", kRoute, R"(],"consumers":[]})");
}

rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

// Whether `yaml` holds what `json` does: strings as quoted scalars (so no YAML reader takes
// "true" or "on" for anything else), numbers and booleans plain.
void ExpectSame(const rapidjson::Value& json, const YAML::Node& yaml, const std::string& where) {
  if (json.IsObject()) {
    ASSERT_TRUE(yaml.IsMap()) << where;
    ASSERT_EQ(yaml.size(), json.MemberCount()) << where;
    for (const auto& m : json.GetObject()) {
      const std::string key = m.name.GetString();
      ASSERT_TRUE(yaml[key].IsDefined()) << where << "." << key;
      ExpectSame(m.value, yaml[key], where + "." + key);
    }
  } else if (json.IsArray()) {
    ASSERT_TRUE(yaml.IsSequence()) << where;
    ASSERT_EQ(yaml.size(), json.Size()) << where;
    for (rapidjson::SizeType i = 0; i < json.Size(); ++i) {
      ExpectSame(json[i], yaml[i], absl::StrCat(where, "[", i, "]"));
    }
  } else if (json.IsNull()) {
    EXPECT_TRUE(yaml.IsNull()) << where;
  } else if (json.IsBool()) {
    EXPECT_EQ(yaml.as<bool>(), json.GetBool()) << where;
    EXPECT_EQ(yaml.Tag(), "?") << where;  // plain
  } else if (json.IsNumber()) {
    EXPECT_DOUBLE_EQ(yaml.as<double>(), json.GetDouble()) << where;
    EXPECT_EQ(yaml.Tag(), "?") << where;
  } else {
    EXPECT_EQ(yaml.Scalar(), json.GetString()) << where;
    EXPECT_EQ(yaml.Tag(), "!") << where;  // quoted
  }
}

TEST(ConfigFileTest, JsonKeepsEntityTextAndMetadata) {
  config::SnapshotPtr snapshot = api::testing::Decode(Table());
  ASSERT_NE(snapshot, nullptr);
  absl::StatusOr<std::string> json = RenderConfig(*snapshot, {}, FileFormat::kJson);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr(kService));
  EXPECT_THAT(*json, HasSubstr(kRoute));
  rapidjson::Document doc;
  doc.Parse(json->c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_STREQ(doc["_format_version"].GetString(), "3.0");
  EXPECT_FALSE(doc["_transform"].GetBool());
  EXPECT_EQ(doc["services"].Size(), 1u);
  EXPECT_EQ(doc["routes"].Size(), 1u);
}

TEST(ConfigFileTest, WritesOnlyTheTypesAsked) {
  config::SnapshotPtr snapshot = api::testing::Decode(Table());
  absl::StatusOr<std::string> json = RenderConfig(*snapshot, {"routes"}, FileFormat::kJson);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr(kRoute));
  EXPECT_THAT(*json, Not(HasSubstr(R"("services")")));
  EXPECT_THAT(*json, HasSubstr(R"("_format_version")"));
}

TEST(ConfigFileTest, YamlHoldsWhatJsonDoes) {
  config::SnapshotPtr snapshot = api::testing::Decode(Table());
  absl::StatusOr<std::string> json = RenderConfig(*snapshot, {}, FileFormat::kJson);
  absl::StatusOr<std::string> yaml = RenderConfig(*snapshot, {}, FileFormat::kYaml);
  ASSERT_TRUE(json.ok() && yaml.ok());
  ExpectSame(ParseJson(*json), YAML::Load(*yaml), "");
  // Kept as written, not as a float.
  EXPECT_THAT(*yaml, HasSubstr("weight: 1.50"));
}

TEST(ConfigFileTest, FormatFollowsTheExtension) {
  EXPECT_EQ(FormatForPath("/run/kong/kong.yaml"), FileFormat::kYaml);
  EXPECT_EQ(FormatForPath("kong.yml"), FileFormat::kYaml);
  EXPECT_EQ(FormatForPath("/run/kong/kong.json"), FileFormat::kJson);
  EXPECT_EQ(FormatForPath("/run/kong/config"), FileFormat::kJson);
}

TEST(ConfigFileTest, WritesMode0600AndLeavesNoTempFile) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/kong.json";
  config::SnapshotPtr snapshot = api::testing::Decode(Table());
  ::umask(022);
  ASSERT_TRUE(WriteConfigFile(path, *snapshot, {}).ok());
  ASSERT_TRUE(WriteConfigFile(path, *snapshot, {}).ok());  // replacing keeps the mode
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(testing::ReadFile(path), *RenderConfig(*snapshot, {}, FileFormat::kJson));
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
}

TEST(ConfigFileTest, AMissingDirectoryIsAnError) {
  config::SnapshotPtr snapshot = api::testing::Decode(Table());
  EXPECT_FALSE(WriteConfigFile("/nonexistent-dir/kong.json", *snapshot, {}).ok());
}

}  // namespace
}  // namespace tether::exporter

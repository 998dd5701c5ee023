#include "sidecar/settings/node_identity.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/settings/validate.h"
#include "tests/unit/sidecar/settings/test_util.h"

namespace tether::settings {
namespace {

using testing::Concat;
using ::testing::HasSubstr;
using testing::ModeOf;
using testing::ParseOk;
using testing::RequiredArgs;
using testing::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void WriteAll(const std::string& path, const std::string& contents) {
  std::ofstream(path) << contents;
}

std::string LoadOk(const std::string& data_dir) {
  absl::StatusOr<std::string> id = LoadOrCreateNodeId(data_dir);
  if (!id.ok()) {
    ADD_FAILURE() << "LoadOrCreateNodeId failed: " << id.status();
    return "";
  }
  return *id;
}

TEST(GenerateUuidV4Test, MakesDistinctVersion4Uuids) {
  const absl::StatusOr<std::string> a = GenerateUuidV4();
  const absl::StatusOr<std::string> b = GenerateUuidV4();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  for (const std::string& id : {*a, *b}) {
    SCOPED_TRACE(id);
    EXPECT_TRUE(IsValidUuid(id));
    EXPECT_EQ(id[14], '4');                                          // version
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // variant
    EXPECT_EQ(id, absl::AsciiStrToLower(id));
  }
}

TEST(LoadOrCreateNodeIdTest, GeneratesOnceAndPersistsWithMode0600) {
  TempDir dir;
  const std::string id = LoadOk(dir.path());
  EXPECT_TRUE(IsValidUuid(id));
  EXPECT_EQ(ReadAll(dir.Sub("node_id")), id + "\n");
  EXPECT_EQ(ModeOf(dir.Sub("node_id")), 0600);
  // Only the id file is left: the temp file was renamed into place.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(LoadOrCreateNodeIdTest, ReusesThePersistedIdAcrossCalls) {
  // A restart keeps the id, so the CP keeps one row for this node.
  TempDir dir;
  const std::string first = LoadOk(dir.path());
  EXPECT_EQ(LoadOk(dir.path()), first);
  EXPECT_EQ(LoadOk(dir.path()), first);
}

TEST(LoadOrCreateNodeIdTest, ReadsAnIdWrittenByAnOperator) {
  // Surrounding whitespace (an editor's newline) is ignored.
  TempDir dir;
  WriteAll(dir.Sub("node_id"), "  9f6c2d1e-0b4a-4c8e-9d1f-3a2b5c6d7e8f \n\n");
  EXPECT_EQ(LoadOk(dir.path()), "9f6c2d1e-0b4a-4c8e-9d1f-3a2b5c6d7e8f");
}

TEST(LoadOrCreateNodeIdTest, RegeneratesAnInvalidPersistedId) {
  // Like Kong's 09-node-id-persistence: garbage is replaced by a new id, which is then kept.
  for (const std::string& garbage :
       {std::string("not-a-uuid"), std::string(""), std::string(10000, 'x')}) {
    SCOPED_TRACE(garbage.substr(0, 20));
    TempDir dir;
    WriteAll(dir.Sub("node_id"), garbage);
    const std::string id = LoadOk(dir.path());
    EXPECT_TRUE(IsValidUuid(id));
    EXPECT_EQ(ReadAll(dir.Sub("node_id")), id + "\n");
    EXPECT_EQ(ModeOf(dir.Sub("node_id")), 0600);
    EXPECT_EQ(LoadOk(dir.path()), id);
  }
}

TEST(LoadOrCreateNodeIdTest, FailsWhenTheIdFileCannotBeRead) {
  // A read error other than "missing" is not invalid content: regenerating would lose the id.
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.Sub("node_id").c_str(), 0700), 0);
  const absl::StatusOr<std::string> id = LoadOrCreateNodeId(dir.path());
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(id.status().message(), HasSubstr("cannot read " + dir.Sub("node_id")));
}

TEST(LoadOrCreateNodeIdTest, CreatesTheDataDirWith0710) {
  TempDir dir;
  const std::string data_dir = dir.Sub("a/b/tether");
  EXPECT_TRUE(IsValidUuid(LoadOk(data_dir)));
  EXPECT_EQ(ModeOf(data_dir), 0710);
  EXPECT_EQ(ModeOf(dir.Sub("a")), 0755);
}

TEST(EnsureDataDirTest, CreatesMissingDirWith0710EvenWithTrailingSlash) {
  TempDir dir;
  ASSERT_EQ(EnsureDataDir(dir.Sub("data/")), absl::OkStatus());
  EXPECT_EQ(ModeOf(dir.Sub("data")), 0710);
}

TEST(EnsureDataDirTest, LeavesAnExistingDirAlone) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.Sub("data").c_str(), 0750), 0);
  ASSERT_EQ(::chmod(dir.Sub("data").c_str(), 0750), 0);
  ASSERT_EQ(EnsureDataDir(dir.Sub("data")), absl::OkStatus());
  EXPECT_EQ(ModeOf(dir.Sub("data")), 0750);
}

TEST(EnsureDataDirTest, RefusesAFile) {
  TempDir dir;
  WriteAll(dir.Sub("file"), "x");
  const absl::Status st = EnsureDataDir(dir.Sub("file"));
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(),
              HasSubstr("--data-dir " + dir.Sub("file") + ": exists and is not a directory"));
}

std::string SystemHostname() {
  std::array<char, HOST_NAME_MAX + 1> buf{};
  ::gethostname(buf.data(), buf.size() - 1);
  return buf.data();
}

// ParseSettings over RequiredArgs(dir) and `args`, then PrepareNode, as main does.
Settings PrepareOk(const TempDir& dir, const std::vector<std::string>& args = {}) {
  Settings s = ParseOk(Concat(RequiredArgs(dir), args));
  if (const absl::Status st = PrepareNode(s); !st.ok()) ADD_FAILURE() << "PrepareNode: " << st;
  return s;
}

TEST(PrepareNodeTest, DefaultsTheHostnameToTheSystemsAndKeepsAGivenOne) {
  TempDir dir;
  EXPECT_EQ(PrepareOk(dir).node_hostname, SystemHostname());
  EXPECT_EQ(PrepareOk(dir, {"--node-hostname=dp-1.example.com"}).node_hostname, "dp-1.example.com");
}

TEST(PrepareNodeTest, CreatesTheDataDirAndGeneratesAndReusesTheNodeId) {
  // Without --node-id the id comes from <data-dir>/node_id, created on first start and reused.
  TempDir dir;
  const Settings first = PrepareOk(dir);
  const Settings second = PrepareOk(dir);
  EXPECT_TRUE(IsValidUuid(first.node_id));
  EXPECT_EQ(first.node_id, second.node_id);
  EXPECT_EQ(ModeOf(dir.Sub("data")), 0710);
  EXPECT_EQ(ModeOf(dir.Sub("data/node_id")), 0600);
  EXPECT_EQ(ReadAll(dir.Sub("data/node_id")), first.node_id + "\n");
  // What PrepareNode fills in still passes validation.
  EXPECT_EQ(ValidateSettings(first), absl::OkStatus());
}

TEST(PrepareNodeTest, UsesAGivenNodeIdWithoutPersistingIt) {
  TempDir dir;
  const std::string id = "9f6c2d1e-0b4a-4c8e-9d1f-3a2b5c6d7e8f";
  EXPECT_EQ(PrepareOk(dir, {"--node-id=" + id}).node_id, id);
  EXPECT_EQ(ModeOf(dir.Sub("data")), 0710);  // The data dir is still created.
  EXPECT_EQ(ModeOf(dir.Sub("data/node_id")), -1);
}

TEST(PrepareNodeTest, FailsWhenTheDataDirIsAFile) {
  TempDir dir;
  Settings s = ParseOk(RequiredArgs(dir));
  WriteAll(dir.Sub("data"), "x");
  const absl::Status st = PrepareNode(s);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(s.node_id.empty());
}

// --node-version=auto starts from the version remembered last time; anything unreadable is
// ignored (the search then starts from the newest), never fatal.
TEST(RememberedKongVersionTest, RoundTripsAndIgnoresGarbage) {
  TempDir dir;
  EXPECT_EQ(LoadRememberedKongMinor(dir.path()), std::nullopt);
  ASSERT_TRUE(RememberKongVersion(dir.path(), "3.9.0").ok());
  EXPECT_EQ(LoadRememberedKongMinor(dir.path()), 9);
  ASSERT_TRUE(RememberKongVersion(dir.path(), "3.12.0").ok());
  EXPECT_EQ(LoadRememberedKongMinor(dir.path()), 12);
  std::ofstream(dir.path() + "/" + kKongVersionFileName) << "not a version\n";
  EXPECT_EQ(LoadRememberedKongMinor(dir.path()), std::nullopt);
  std::ofstream(dir.path() + "/" + kKongVersionFileName) << "2.8.1\n";
  EXPECT_EQ(LoadRememberedKongMinor(dir.path()), std::nullopt);
}

}  // namespace
}  // namespace tether::settings

// --write-config and --on-change-exec end to end: a real App fed by tether-devcp writes the file
// and runs /bin/sh hooks while configs arrive; the file is never seen partial, holds what
// GetConfig serves, and the hook follows the newest config one run at a time, NACKing in status.
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tests/integration/api_harness.h"
#include "tests/unit/sidecar/export/hook_script.h"
#include "yaml-cpp/yaml.h"

namespace tether::api_test {
namespace {

using exporter::testing::HookRecord;
using exporter::testing::WriteScript;
using ::testing::HasSubstr;

ConfigModel Model(int version) {
  ConfigModel m;
  for (int i = 0; i < 20; ++i) m.Put("services", Id(i), absl::StrCat("v", version), 200);
  for (int i = 20; i < 40; ++i) m.Put("routes", Id(i), absl::StrCat("v", version), 200);
  return m;
}

// The file's entities, each row written compact as the model writes it; nullopt when the file
// does not parse.
std::optional<Entities> JsonFileEntities(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  Entities out;
  for (const auto& m : doc.GetObject()) {
    if (!m.value.IsArray()) continue;
    for (const auto& row : m.value.GetArray()) {
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
      row.Accept(writer);
      out[m.name.GetString()][row["id"].GetString()] = buffer.GetString();
    }
  }
  return out;
}

class ExportTest : public ApiTest {
 protected:
  // Waits until the hook's status record satisfies `pred`; returns it.
  status::SubscriberRecord AwaitHook(
      const std::function<bool(const status::SubscriberRecord&)>& pred) {
    const status::StatusView view = AwaitStatus([&](const status::StatusView& v) {
      return HookRecord(v) != nullptr && pred(*HookRecord(v));
    });
    return HookRecord(view) != nullptr ? *HookRecord(view) : status::SubscriberRecord{};
  }

  // Pushes models 1..n without waiting for each; returns the last hash.
  std::string PushQuickly(int n) {
    std::string hash;
    for (int i = 1; i <= n; ++i) {
      auto pushed = cp_->SetConfig(Model(i).ToJson());
      EXPECT_TRUE(pushed.ok()) << pushed.status();
      hash = pushed.value_or("");
    }
    return hash;
  }

  Entities GetConfigEntities() {
    Mirror mirror;
    mirror.Apply(GetConfig());
    return mirror.entities;
  }
};

TEST_F(ExportTest, TheFileIsNeverPartialIs0600AndHoldsWhatGetConfigServes) {
  const std::string path = data_dir_.path() + "/kong.json";
  StartApp({"--write-config=" + path, "--on-change-exec=/bin/true"});
  Push(Model(0));
  AwaitHook([](const status::SubscriberRecord& s) { return !s.acked_hash.empty(); });

  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<int> partial{0};
  std::thread reader([&] {
    while (!stop.load()) {
      std::ifstream in(path);
      const std::string text((std::istreambuf_iterator<char>(in)), {});
      if (!JsonFileEntities(text).has_value()) ++partial;
      ++reads;
    }
  });
  const std::string last = PushQuickly(30);
  AwaitHook([&](const status::SubscriberRecord& s) { return s.acked_hash == last; });
  stop = true;
  reader.join();
  EXPECT_EQ(partial.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(reads.load(), 0);

  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  const std::string text = testing::ReadFile(path);
  EXPECT_EQ(JsonFileEntities(text), GetConfigEntities());
  EXPECT_EQ(JsonFileEntities(text), Expected(Model(30)));
  // Byte for byte: each row as the CP sent it.
  for (const auto& [type, rows] : Expected(Model(30))) {
    for (const auto& [id, json] : rows) EXPECT_THAT(text, HasSubstr(json));
  }
}

TEST_F(ExportTest, YamlFileHoldsTheSameConfigAndOnlyTheTypesAsked) {
  const std::string path = data_dir_.path() + "/kong.yaml";
  StartApp({"--write-config=" + path, "--write-config-types=routes", "--on-change-exec=/bin/true"});
  const std::string hash = Push(Model(1));
  AwaitHook([&](const status::SubscriberRecord& s) { return s.acked_hash == hash; });
  const YAML::Node doc = YAML::LoadFile(path);
  EXPECT_EQ(doc["_format_version"].as<std::string>(), "3.0");
  EXPECT_FALSE(doc["services"].IsDefined());
  Entities got;
  for (const YAML::Node& row : doc["routes"]) {
    got["routes"][row["id"].as<std::string>()] = absl::StrCat(
        R"({"id":")", row["id"].as<std::string>(), R"(","name":")", row["name"].as<std::string>(),
        R"(","comment":")", row["comment"].as<std::string>(), R"("})");
  }
  EXPECT_EQ(got, Expected(Model(1), {"routes"}));
}

TEST_F(ExportTest, TheHookRunsOneAtATimeCoalescedAndLastForTheFinalHash) {
  const std::string script = WriteScript(data_dir_.path(), "hook", R"(
mkdir "$1/lock" 2>/dev/null || echo overlap >> "$1/overlaps"
test -s "$TETHER_CONFIG_PATH" || echo "no file" >> "$1/overlaps"
echo "$TETHER_CONFIG_HASH" >> "$1/runs"
sleep 0.1
rmdir "$1/lock")");
  StartApp({"--write-config=" + data_dir_.path() + "/kong.json",
            absl::StrCat("--on-change-exec=", script, " '", data_dir_.path(), "'")});
  const std::string last = PushQuickly(25);
  AwaitHook([&](const status::SubscriberRecord& s) { return s.acked_hash == last; });
  const std::vector<std::string> runs =
      absl::StrSplit(testing::ReadFile(data_dir_.path() + "/runs"), '\n', absl::SkipEmpty());
  ASSERT_FALSE(runs.empty());
  EXPECT_LT(runs.size(), 25u);
  EXPECT_EQ(runs.back(), last);
  EXPECT_FALSE(std::ifstream(data_dir_.path() + "/overlaps").good())
      << testing::ReadFile(data_dir_.path() + "/overlaps");
}

TEST_F(ExportTest, AFailingHookIsANackInStatusWhileConfigsKeepApplying) {
  const std::string script = WriteScript(data_dir_.path(), "hook",
                                         "echo \"cannot reload $TETHER_CONFIG_HASH\" >&2; exit 4");
  StartApp({"--on-change-exec=" + script, "--report-hash=acked"});
  for (int i = 1; i <= 3; ++i) {
    const std::string hash = Push(Model(i));  // applied whatever the hook says
    const status::SubscriberRecord hook =
        AwaitHook([&](const status::SubscriberRecord& s) { return s.nacked_hash == hash; });
    EXPECT_THAT(hook.nack_error, HasSubstr("exited with status 4"));
    EXPECT_THAT(hook.nack_error, HasSubstr("cannot reload " + hash));
    EXPECT_EQ(hook.acked_hash, "");
  }
  // --report-hash=acked counts the hook: nothing was acked, so no hash was reported.
  EXPECT_EQ(app_->status().Get().config.reported_hash, "");
}

}  // namespace
}  // namespace tether::api_test

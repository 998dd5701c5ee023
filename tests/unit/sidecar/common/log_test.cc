// The logging facade on spdlog: the json lines parse with the promised keys whatever the fields
// hold, the text lines keep the human format, levels filter, and concurrent lines stay whole.
#include "sidecar/common/log.h"

#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "tests/testing/log_capture.h"

namespace tether::log {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::SizeIs;

// RFC 3339 UTC with milliseconds (gtest's POSIX regex has no \d).
constexpr absl::string_view kTimeRegex =
    "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z";

// Every test starts from, and leaves, the defaults: info level, text format.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLevel(Level::kInfo);
    SetFormat(Format::kText);
  }
  void TearDown() override {
    SetLevel(Level::kInfo);
    SetFormat(Format::kText);
  }
};

// Parses one json line; fails the test when it is not a json object.
rapidjson::Document ParseLine(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(line.data(), line.size());
  EXPECT_FALSE(doc.HasParseError()) << line;
  EXPECT_TRUE(doc.IsObject()) << line;
  return doc;
}

std::string Member(const rapidjson::Document& doc, const char* key) {
  if (!doc.IsObject() || !doc.HasMember(key) || !doc[key].IsString()) return "<missing>";
  return std::string(doc[key].GetString(), doc[key].GetStringLength());
}

TEST_F(LogTest, JsonLineHasTimeLevelComponentMessageAndFields) {
  SetFormat(Format::kJson);
  std::vector<std::string> lines;
  {
    testing::LogCapture capture;
    Info("cp", "connected to control plane", {{"peer", "10.0.0.7:8005"}, {"attempts", 3}});
    Error("app", "cannot start");
    lines = capture.Lines();
  }
  ASSERT_THAT(lines, SizeIs(2));
  const rapidjson::Document info = ParseLine(lines[0]);
  EXPECT_THAT(Member(info, "time"), MatchesRegex(kTimeRegex));
  EXPECT_EQ(Member(info, "level"), "info");
  EXPECT_EQ(Member(info, "component"), "cp");
  EXPECT_EQ(Member(info, "message"), "connected to control plane");
  EXPECT_EQ(Member(info, "peer"), "10.0.0.7:8005");
  EXPECT_EQ(Member(info, "attempts"), "3");  // every value is a string
  EXPECT_EQ(info.MemberCount(), 6u);
  const rapidjson::Document error = ParseLine(lines[1]);
  EXPECT_EQ(Member(error, "level"), "error");
  EXPECT_EQ(error.MemberCount(), 4u);
}

TEST_F(LogTest, JsonEscapesHostileValues) {
  // Each value goes through as one parseable line: escaped where json needs it, kept where it is
  // valid UTF-8, and with U+FFFD for each ill-formed UTF-8 sequence.
  const std::string kReplacement = "\xEF\xBF\xBD";
  struct Case {
    const char* name;
    std::string value;
    std::string want;
  };
  const Case cases[] = {
      {"quotes and backslash", R"(a "quoted" \ value)", R"(a "quoted" \ value)"},
      {"newline and carriage return", "line1\nline2\r\n{\"forged\":1}",
       "line1\nline2\r\n{\"forged\":1}"},
      {"control characters",
       std::string("nul\0bell\x07"
                   "esc\x1b[31m",
                   15),
       std::string("nul\0bell\x07"
                   "esc\x1b[31m",
                   15)},
      {"valid non-ascii", "gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80",
       "gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80"},
      {"invalid bytes",
       "a\xFF\xFE"
       "b",
       "a" + kReplacement + kReplacement + "b"},
      {"truncated sequence", "euro\xE2\x82", "euro" + kReplacement},
      {"overlong slash", "\xC0\xAF", kReplacement + kReplacement},
      {"surrogate", "\xED\xA0\x80", kReplacement + kReplacement + kReplacement},
      {"above U+10FFFF", "\xF4\x90\x80\x80",
       kReplacement + kReplacement + kReplacement + kReplacement},
  };
  SetFormat(Format::kJson);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> lines;
    {
      testing::LogCapture capture;
      Warn("test", "hostile", {{"value", c.value}, {c.value, "as key"}});
      lines = capture.Lines();
    }
    ASSERT_THAT(lines, SizeIs(1));
    const rapidjson::Document doc = ParseLine(lines[0]);
    EXPECT_EQ(Member(doc, "value"), c.want);
    EXPECT_TRUE(doc.HasMember(rapidjson::Value(c.want.data(), c.want.size()))) << lines[0];
  }
}

TEST_F(LogTest, TextLineKeepsTheHumanFormat) {
  std::vector<std::string> lines;
  {
    testing::LogCapture capture;
    Info("cp", "config applied", {{"config_hash", "abc"}, {"counts", "services=1 routes=2"}});
    lines = capture.Lines();
  }
  ASSERT_THAT(lines, SizeIs(1));
  EXPECT_THAT(lines[0],
              MatchesRegex(absl::StrCat(kTimeRegex, R"( info cp: config applied config_hash=abc )"
                                                    R"(counts="services=1 routes=2")")));
}

TEST_F(LogTest, TextEscapesControlCharactersSoALineStaysOneLine) {
  std::vector<std::string> lines;
  {
    testing::LogCapture capture;
    Warn("test", "hostile", {{"err", "a\nb\r\t\x1b\"q\"\\"}});
    lines = capture.Lines();
  }
  ASSERT_THAT(lines, SizeIs(1));
  EXPECT_THAT(lines[0], ::testing::EndsWith(R"(err="a\nb\r\t\x1b\"q\"\\")"));
}

TEST_F(LogTest, LevelFiltersLines) {
  SetFormat(Format::kJson);
  SetLevel(Level::kWarn);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kWarn));
  std::vector<std::string> lines;
  {
    testing::LogCapture capture;
    Debug("test", "debug line");
    Info("test", "info line");
    Warn("test", "warn line");
    Error("test", "error line");
    SetLevel(Level::kDebug);
    Debug("test", "debug after lowering");
    lines = capture.Lines();
  }
  std::vector<std::string> messages;
  for (const std::string& line : lines) messages.push_back(Member(ParseLine(line), "message"));
  EXPECT_THAT(messages, ElementsAre("warn line", "error line", "debug after lowering"));
}

TEST_F(LogTest, ErrorLevelWritesNothingBelowIt) {
  SetLevel(Level::kError);
  testing::LogCapture capture;
  Warn("test", "not written");
  EXPECT_THAT(capture.Lines(), IsEmpty());
}

TEST_F(LogTest, ConcurrentLinesNeverInterleave) {
  // Lines longer than a pipe's atomic write, from several threads at once, each arrive whole.
  SetFormat(Format::kJson);
  constexpr int kThreads = 8;
  constexpr int kLinesPerThread = 100;
  const std::string big(8000, 'x');
  std::vector<std::string> lines;
  {
    testing::LogCapture capture;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t, &big] {
        for (int i = 0; i < kLinesPerThread; ++i) {
          Info("test", "line", {{"thread", t}, {"i", i}, {"pad", big}});
        }
      });
    }
    for (std::thread& t : threads) t.join();
    lines = capture.Lines();
  }
  ASSERT_THAT(lines, SizeIs(kThreads * kLinesPerThread));
  std::vector<int> next(kThreads, 0);
  for (const std::string& line : lines) {
    const rapidjson::Document doc = ParseLine(line);
    ASSERT_EQ(Member(doc, "pad"), big);
    const int t = std::stoi(Member(doc, "thread"));
    // Each thread's lines arrive in the order it wrote them.
    EXPECT_EQ(std::stoi(Member(doc, "i")), next[t]++);
  }
}

TEST(LogParseTest, ParsesFormatsAndLevels) {
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_EQ(*ParseFormat("TEXT"), Format::kText);
  EXPECT_EQ(ParseFormat("logfmt").status().message(),
            "unknown log format \"logfmt\" (want text or json)");
  EXPECT_EQ(*ParseLevel("warning"), Level::kWarn);
  EXPECT_FALSE(ParseLevel("trace").ok());
}

}  // namespace
}  // namespace tether::log

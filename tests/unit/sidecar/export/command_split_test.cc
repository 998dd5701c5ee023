// SplitCommandLine: words as a POSIX shell splits them, with nothing expanded.
#include "sidecar/export/command_split.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tether::exporter {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Split(absl::string_view line) {
  absl::StatusOr<std::vector<std::string>> words = SplitCommandLine(line);
  EXPECT_TRUE(words.ok()) << words.status();
  return words.value_or(std::vector<std::string>{});
}

TEST(SplitCommandLineTest, SplitsOnBlanks) {
  EXPECT_THAT(Split("  nginx -s\treload\n"), ElementsAre("nginx", "-s", "reload"));
}

TEST(SplitCommandLineTest, QuotesKeepBlanksAndNothingIsExpanded) {
  EXPECT_THAT(Split(R"(sh -c 'kill -HUP $(cat /run/haproxy.pid)' "a b" c\ d $HOME ~ *)"),
              ElementsAre("sh", "-c", "kill -HUP $(cat /run/haproxy.pid)", "a b", "c d", "$HOME",
                          "~", "*"));
}

TEST(SplitCommandLineTest, BackslashesAsInAShell) {
  // In double quotes a backslash escapes only $ ` " \ and newline; elsewhere it stays.
  EXPECT_THAT(Split(R"("a\"b\\c\$d\e")"), ElementsAre(R"(a"b\c$d\e)"));
  // In single quotes nothing is special.
  EXPECT_THAT(Split(R"('a\"b')"), ElementsAre(R"(a\"b)"));
  // Outside quotes it keeps the next character; backslash-newline joins lines.
  EXPECT_THAT(Split("a\\'b c\\\nd"), ElementsAre("a'b", "cd"));
}

TEST(SplitCommandLineTest, AdjacentPartsMakeOneWordAndEmptyQuotesAWord) {
  EXPECT_THAT(Split(R"(pre'mid'"post" '' "")"), ElementsAre("premidpost", "", ""));
}

TEST(SplitCommandLineTest, GivesBackTheItemsOfAYamlList) {
  // What settings make of `on-change-exec: [sh, -c, "echo it's $X"]`.
  EXPECT_THAT(Split(R"('sh' '-c' 'echo it'\''s $X')"), ElementsAre("sh", "-c", "echo it's $X"));
}

TEST(SplitCommandLineTest, RefusesWhatAShellWould) {
  for (absl::string_view bad : {"a 'b", "a \"b", "a\\", "", "  \t"}) {
    EXPECT_FALSE(SplitCommandLine(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace tether::exporter

// ReadCommandLine: the flag syntax shared by tether's tools, and its errors, on real argv arrays.
#include "sidecar/common/command_line.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// A tool with a valued flag (--name), a switch (--quiet) and positional arguments; what it saw.
struct Tool {
  std::vector<std::pair<std::string, std::string>> flags;
  std::vector<std::string> positionals;
  bool help = false;
  bool takes_positionals = true;

  absl::Status Read(std::vector<std::string> args) {
    args.insert(args.begin(), "tool");
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    CommandLineHandlers handlers = {
        .kind =
            [](absl::string_view name) {
              if (name == "name") return FlagKind::kValue;
              if (name == "quiet") return FlagKind::kSwitch;
              return FlagKind::kUnknown;
            },
        .flag =
            [this](absl::string_view name, absl::string_view value) {
              flags.emplace_back(name, value);
              return value == "bad" ? absl::InvalidArgumentError("bad value") : absl::OkStatus();
            },
    };
    if (takes_positionals) {
      handlers.positional = [this](absl::string_view arg) {
        positionals.emplace_back(arg);
        return absl::OkStatus();
      };
    }
    return ReadCommandLine(static_cast<int>(argv.size()), argv.data(), handlers, help);
  }
};

TEST(CommandLineTest, ReadsBothValueFormsSwitchesAndPositionalsInOrder) {
  Tool tool;
  ASSERT_TRUE(tool.Read({"get", "--name", "a", "--quiet", "--name=b=c", "--name=", "x"}).ok());
  EXPECT_THAT(tool.flags, ElementsAre(Pair("name", "a"), Pair("quiet", ""), Pair("name", "b=c"),
                                      Pair("name", "")));
  EXPECT_THAT(tool.positionals, ElementsAre("get", "x"));
  EXPECT_FALSE(tool.help);
}

// The next argument is the value even when it looks like a flag: `--name --quiet`.
TEST(CommandLineTest, TakesTheNextArgumentAsTheValue) {
  Tool tool;
  ASSERT_TRUE(tool.Read({"--name", "--quiet"}).ok());
  EXPECT_THAT(tool.flags, ElementsAre(Pair("name", "--quiet")));
}

TEST(CommandLineTest, HelpAnywhereIsNotedAndSkipped) {
  Tool tool;
  ASSERT_TRUE(tool.Read({"--name", "a", "-h", "--help"}).ok());
  EXPECT_TRUE(tool.help);
  EXPECT_THAT(tool.flags, ElementsAre(Pair("name", "a")));
}

TEST(CommandLineTest, Errors) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  const Case cases[] = {
      {{"--name"}, "--name needs a value"}, {{"--quiet=1"}, "--quiet takes no value"},
      {{"--nope"}, "unknown flag --nope"},  {{"--nope=1"}, "unknown flag --nope"},
      {{"--name", "bad"}, "bad value"},
  };
  for (const Case& c : cases) {
    Tool tool;
    const absl::Status status = tool.Read(c.args);
    EXPECT_EQ(status, absl::InvalidArgumentError(c.error)) << c.args[0];
  }
  Tool strict;
  strict.takes_positionals = false;
  EXPECT_EQ(strict.Read({"extra"}), absl::InvalidArgumentError("unexpected argument \"extra\""));
}

// The first error in argv order stops the reading: nothing after it is looked at.
TEST(CommandLineTest, StopsAtTheFirstError) {
  Tool tool;
  EXPECT_EQ(tool.Read({"--name", "bad", "--nope", "--name"}),
            absl::InvalidArgumentError("bad value"));
  EXPECT_THAT(tool.flags, ElementsAre(Pair("name", "bad")));
}

}  // namespace
}  // namespace tether

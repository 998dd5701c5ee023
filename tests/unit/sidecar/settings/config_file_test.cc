// The --config YAML file: where it sits in the precedence, the YAML forms each kind of setting
// takes, and errors that name the file and line without repeating secrets.
#include <fstream>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/sidecar/settings/test_util.h"

namespace tether::settings {
namespace {

using testing::Concat;
using testing::FixtureCert;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Parse;
using testing::RequiredArgs;
using testing::TempDir;

constexpr char kPassword[] = "s3cr3t-p4ss";

// Writes `yaml` to <dir>/tether.yaml and returns its path.
std::string WriteConfig(const TempDir& dir, const std::string& yaml) {
  const std::string path = dir.Sub("tether.yaml");
  std::ofstream(path) << yaml;
  return path;
}

// ParseSettings with the required flags, --config=<yaml written to a file>, `args` and `env`.
absl::StatusOr<Settings> ParseWithConfig(const TempDir& dir, const std::string& yaml,
                                         const std::vector<std::string>& args = {},
                                         std::map<std::string, std::string> env = {}) {
  absl::StatusOr<ParseOutcome> outcome =
      Parse(Concat(Concat(RequiredArgs(dir), {"--config=" + WriteConfig(dir, yaml)}), args),
            std::move(env));
  if (!outcome.ok()) return outcome.status();
  if (!std::holds_alternative<Settings>(*outcome)) {
    return absl::InternalError("ParseSettings asked to print and exit");
  }
  return std::get<Settings>(*std::move(outcome));
}

TEST(ConfigFileTest, PrecedenceIsFlagThenEnvThenFileThenDefault) {
  // Each source beats every source below it, for a --cluster-* setting (two env names) and for
  // another one.
  struct Case {
    const char* name;
    std::vector<std::string> flags;
    std::map<std::string, std::string> env;
    int64_t want_payload;
    absl::Duration want_interval;
  };
  const std::string file = "cluster-max-payload: 5000000\nping-interval: 5s\n";
  const Case cases[] = {
      {"file over default", {}, {}, 5000000, absl::Seconds(5)},
      {"kong env over file",
       {},
       {{"KONG_CLUSTER_MAX_PAYLOAD", "6000000"}},
       6000000,
       absl::Seconds(5)},
      {"tether env over kong env and file",
       {},
       {{"KONG_CLUSTER_MAX_PAYLOAD", "6000000"},
        {"TETHER_CLUSTER_MAX_PAYLOAD", "7000000"},
        {"TETHER_PING_INTERVAL", "6s"}},
       7000000,
       absl::Seconds(6)},
      {"flag over everything",
       {"--cluster-max-payload=8000000", "--ping-interval=7s"},
       {{"KONG_CLUSTER_MAX_PAYLOAD", "6000000"},
        {"TETHER_CLUSTER_MAX_PAYLOAD", "7000000"},
        {"TETHER_PING_INTERVAL", "6s"}},
       8000000,
       absl::Seconds(7)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    absl::StatusOr<Settings> s = ParseWithConfig(dir, file, c.flags, c.env);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->max_payload_bytes, c.want_payload);
    EXPECT_EQ(s->ping_interval, c.want_interval);
  }
  // Without the file, the defaults.
  TempDir dir;
  absl::StatusOr<Settings> s = ParseWithConfig(dir, "");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->max_payload_bytes, 16777216);
  EXPECT_EQ(s->ping_interval, absl::Seconds(30));
}

TEST(ConfigFileTest, ConfigPathComesFromTheEnvironmentToo) {
  TempDir dir;
  const std::string path = WriteConfig(dir, "ping-interval: 9s\n");
  absl::StatusOr<ParseOutcome> outcome = Parse(RequiredArgs(dir), {{"TETHER_CONFIG", path}});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(std::get<Settings>(*outcome).ping_interval, absl::Seconds(9));
}

TEST(ConfigFileTest, TakesEveryKindOfValue) {
  // Scalars of every type, a list for a repeatable flag, a map for labels, a list for plugins,
  // Kong's on for a switch, and a quoted IPv6 address.
  TempDir dir;
  absl::StatusOr<Settings> s = ParseWithConfig(dir, R"(# tether settings
cluster-control-plane: "[::1]:8005"
cluster-max-payload: 8MiB
connect-timeout: 2s
grpc-listen: [unix:///tmp/a.sock, "127.0.0.1:0"]
cluster-dp-labels:
  region: eu-west-1
  tier: gold
node-version: 3.10.0
plugins: [key-auth, "acl:3.9.0"]
grpc-allow-non-loopback: on
log-format: json
)");
  ASSERT_TRUE(s.ok()) << s.status();
  // The flag given by RequiredArgs beats the file.
  EXPECT_EQ(s->control_plane, (HostPort{"cp.example.com", 8005}));
  EXPECT_EQ(s->max_payload_bytes, 8 << 20);
  EXPECT_EQ(s->connect_timeout, absl::Seconds(2));
  ASSERT_EQ(s->grpc_listen.size(), 2u);
  EXPECT_EQ(FormatGrpcListen(s->grpc_listen[0]), "unix:///tmp/a.sock");
  EXPECT_EQ(FormatGrpcListen(s->grpc_listen[1]), "127.0.0.1:0");
  EXPECT_EQ(s->labels,
            (std::map<std::string, std::string>{{"region", "eu-west-1"}, {"tier", "gold"}}));
  EXPECT_EQ(s->plugins, (std::vector<Plugin>{{"acl", "3.9.0"}, {"key-auth", "3.10.0"}}));
  EXPECT_TRUE(s->grpc_allow_non_loopback);
  EXPECT_EQ(s->log_format, log::Format::kJson);
}

TEST(ConfigFileTest, LabelsAndPluginsAlsoTakeTheFlagSyntax) {
  TempDir dir;
  absl::StatusOr<Settings> s =
      ParseWithConfig(dir, "cluster-dp-labels: region:eu,tier:gold\nplugins: key-auth,acl\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->labels, (std::map<std::string, std::string>{{"region", "eu"}, {"tier", "gold"}}));
  EXPECT_EQ(s->plugins.size(), 2u);
}

TEST(ConfigFileTest, OnChangeExecTakesAListOfArguments) {
  // Each item single-quoted, so that the app's shell-like split gives the items back.
  TempDir dir;
  absl::StatusOr<Settings> s = ParseWithConfig(
      dir,
      "on-change-exec: [sh, -c, \"echo it's $TETHER_CONFIG_HASH\"]\nwrite-config: /run/k.yaml\n"
      "write-config-types: [routes, services]\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->on_change_exec, R"('sh' '-c' 'echo it'\''s $TETHER_CONFIG_HASH')");
  EXPECT_EQ(s->write_config_types, (std::vector<std::string>{"routes", "services"}));
  EXPECT_EQ(s->on_change_timeout, absl::Seconds(30));
}

TEST(ConfigFileTest, ARepeatableFlagReplacesTheFileList) {
  // As with the environment, the command line's addresses replace the file's instead of adding.
  TempDir dir;
  absl::StatusOr<Settings> s =
      ParseWithConfig(dir, "grpc-listen: [127.0.0.1:1, 127.0.0.1:2]\n", {"--grpc-listen=[::1]:0"});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->grpc_listen.size(), 1u);
  EXPECT_EQ(FormatGrpcListen(s->grpc_listen[0]), "[::1]:0");
}

TEST(ConfigFileTest, RejectsBadFiles) {
  // Each error names the file and the line (and for yaml syntax the column).
  struct Case {
    const char* name;
    std::string yaml;
    std::string want;  // after "<path>:"
  };
  const Case cases[] = {
      {"unknown key", "ping-interval: 1s\nping-intervall: 2s\n",
       "2: unknown setting \"ping-intervall\" (see --help)"},
      {"key given twice", "ping-interval: 1s\nping-interval: 2s\n",
       "2: ping-interval is given twice"},
      {"list for a single value", "ping-interval:\n  - 1s\n  - 2s\n",
       "1: ping-interval: want a single value, not a list"},
      {"map for a single value", "node-version: {major: 3}\n",
       "1: node-version: want a single value, not a map"},
      {"map for a list", "plugins: {acl: 1}\n", "1: plugins: want a single value, not a map"},
      {"nested list item", "grpc-listen:\n  - [127.0.0.1:1]\n",
       "1: grpc-listen: line 2: want each list item to be a plain value"},
      {"nested label value", "cluster-dp-labels:\n  region: [eu]\n",
       "1: cluster-dp-labels: line 2: want each key and value to be a plain value"},
      {"no value", "ping-interval:\n", "1: ping-interval: needs a value"},
      {"empty string", "ping-interval: \"\"\n", "1: ping-interval: needs a value"},
      {"not a map", "- ping-interval\n", "1: want a map of setting names to values"},
      {"bad yaml", "ping-interval: 1s\nnode-version: [3.10.0\n", "3:1: not valid yaml:"},
      {"config in the file", "config: other.yaml\n", "1: config cannot be set in a config file"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    absl::StatusOr<Settings> s = ParseWithConfig(dir, c.yaml);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.status().message(),
                HasSubstr(absl::StrCat("--config: ", dir.Sub("tether.yaml"), ":", c.want)));
  }
}

TEST(ConfigFileTest, ValueErrorsNameTheFileAndLine) {
  TempDir dir;
  absl::StatusOr<Settings> s = ParseWithConfig(dir, "# comment\n\nping-interval: soon\n");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(),
              HasSubstr(absl::StrCat("--ping-interval \"soon\" (from ", dir.Sub("tether.yaml"),
                                     ":3): not a duration")));
}

TEST(ConfigFileTest, MissingFileIsAnError) {
  TempDir dir;
  absl::StatusOr<ParseOutcome> outcome =
      Parse(Concat(RequiredArgs(dir), {"--config=" + dir.Sub("absent.yaml")}));
  ASSERT_FALSE(outcome.ok());
  EXPECT_THAT(outcome.status().message(),
              HasSubstr(absl::StrCat("--config: cannot read ", dir.Sub("absent.yaml"))));
}

TEST(ConfigFileTest, NeverRepeatsSecrets) {
  // The proxy url holds a password and key files may be given inline by mistake: no error about
  // either repeats the value, whatever went wrong.
  std::string pem;
  {
    std::ifstream key(FixtureCert("kong_clustering.key"));
    pem.assign(std::istreambuf_iterator<char>(key), {});
  }
  std::string indented_pem;
  for (char c : pem) {
    indented_pem.push_back(c);
    if (c == '\n') indented_pem.append("  ");
  }
  const std::string cases[] = {
      absl::StrCat("proxy-server: [\"http://user:", kPassword, "@proxy:3128\"]\n"),
      absl::StrCat("proxy-server: {\"http://user:", kPassword, "@proxy:3128\": 1}\n"),
      absl::StrCat("proxy-server: \"http://user:", kPassword, "@proxy:3128/path\"\n"),
      absl::StrCat("proxy-server: \"http://user:", kPassword, "%zz@proxy:3128\"\n"),
      absl::StrCat("proxy-server: \"socks5://user:", kPassword, "@proxy:3128\"\n"),
      absl::StrCat("proxy-server: \"http://user:", kPassword, "@proxy:99999\"\n"),
      absl::StrCat("cluster-ca-cert: |\n  ", indented_pem),
  };
  for (const std::string& yaml : cases) {
    SCOPED_TRACE(yaml);
    TempDir dir;
    absl::StatusOr<Settings> s = ParseWithConfig(dir, yaml);
    ASSERT_FALSE(s.ok());
    EXPECT_THAT(s.status().message(), Not(HasSubstr(kPassword)));
    EXPECT_THAT(s.status().message(), Not(HasSubstr("PRIVATE")));
    EXPECT_THAT(s.status().message(), Not(HasSubstr("MII")));
  }
}

}  // namespace
}  // namespace tether::settings

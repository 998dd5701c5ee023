#include "sidecar/settings/flags.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/settings/bundled_plugins.h"
#include "tests/unit/sidecar/settings/test_util.h"

namespace tether::settings {
namespace {

using testing::Concat;
using testing::FixtureCert;
using ::testing::HasSubstr;
using testing::ModeOf;
using ::testing::Not;
using testing::Parse;
using testing::ParseOk;
using testing::RequiredArgs;
using testing::TempDir;

TEST(ParseSettingsTest, AppliesDefaultsWhenOnlyRequiredFlagsAreGiven) {
  // Every setting without a flag takes the default from the table.
  TempDir dir;
  const Settings s = ParseOk(RequiredArgs(dir));
  EXPECT_EQ(s.control_plane, (HostPort{"cp.example.com", 8005}));
  EXPECT_EQ(s.mtls, MtlsMode::kShared);
  EXPECT_EQ(s.cert_path, FixtureCert("kong_clustering.crt"));
  EXPECT_EQ(s.key_path, FixtureCert("kong_clustering.key"));
  EXPECT_FALSE(s.ca_cert_path.has_value());
  EXPECT_FALSE(s.server_name.has_value());
  EXPECT_TRUE(s.labels.empty());
  EXPECT_EQ(s.max_payload_bytes, 16777216);
  EXPECT_EQ(s.max_inflated_bytes, int64_t{160} << 20);  // auto: 10 x --cluster-max-payload
  EXPECT_EQ(s.connect_timeout, absl::Seconds(5));
  EXPECT_EQ(s.ping_interval, absl::Seconds(30));
  EXPECT_EQ(s.ping_timeout, absl::Seconds(45));
  EXPECT_EQ(s.backoff_min, absl::Seconds(5));
  EXPECT_EQ(s.backoff_max, absl::Seconds(60));
  EXPECT_EQ(s.node_version, "auto");
  EXPECT_EQ(s.node_hostname, "");  // PrepareNode's (node_identity_test.cc)
  // With auto, resolved per version tried; shown at the newest version tether knows.
  EXPECT_EQ(s.plugins, BundledPlugins(NewestKnownKongVersion()));
  EXPECT_TRUE(s.plugin_selection.bundled);
  EXPECT_TRUE(s.plugin_selection.listed.empty());
  EXPECT_EQ(s.data_dir, dir.Sub("data"));
  EXPECT_EQ(s.log_level, log::Level::kInfo);
  EXPECT_EQ(s.startup_policy, StartupPolicy::kServeCache);
  EXPECT_EQ(s.max_cache_age, absl::ZeroDuration());
  EXPECT_FALSE(s.guard_empty_config);
  EXPECT_EQ(s.cert_check_interval, absl::Seconds(10));
}

TEST(ParseSettingsTest, ParsesStartUpAndCacheFlags) {
  TempDir dir;
  const Settings s =
      ParseOk(Concat(RequiredArgs(dir), {"--startup-policy=wait-for-cp", "--max-cache-age=24h",
                                         "--guard-empty-config", "--cert-check-interval=2s"}));
  EXPECT_EQ(s.startup_policy, StartupPolicy::kWaitForCp);
  EXPECT_EQ(s.max_cache_age, absl::Hours(24));
  EXPECT_TRUE(s.guard_empty_config);
  EXPECT_EQ(s.cert_check_interval, absl::Seconds(2));
}

TEST(ParseSettingsTest, PrecedenceIsFlagThenTetherEnvThenKongEnvThenDefault) {
  // For a --cluster-* flag, each source beats those below it.
  struct Case {
    const char* name;
    std::vector<std::string> flags;
    std::map<std::string, std::string> env;
    int64_t want;
  };
  const Case cases[] = {
      {"default", {}, {}, 16777216},
      {"kong env over default", {}, {{"KONG_CLUSTER_MAX_PAYLOAD", "5000000"}}, 5000000},
      {"tether env over kong env",
       {},
       {{"KONG_CLUSTER_MAX_PAYLOAD", "5000000"}, {"TETHER_CLUSTER_MAX_PAYLOAD", "6000000"}},
       6000000},
      {"flag over both envs",
       {"--cluster-max-payload=7000000"},
       {{"KONG_CLUSTER_MAX_PAYLOAD", "5000000"}, {"TETHER_CLUSTER_MAX_PAYLOAD", "6000000"}},
       7000000},
      {"empty tether env falls through to kong env",
       {},
       {{"KONG_CLUSTER_MAX_PAYLOAD", "5000000"}, {"TETHER_CLUSTER_MAX_PAYLOAD", ""}},
       5000000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    EXPECT_EQ(ParseOk(Concat(RequiredArgs(dir), c.flags), c.env).max_payload_bytes, c.want);
  }
}

TEST(ParseSettingsTest, OnlyClusterFlagsHaveKongEnvNames) {
  // KONG_PING_INTERVAL is not a Kong setting, so it is not read; TETHER_PING_INTERVAL is.
  TempDir dir;
  EXPECT_EQ(ParseOk(RequiredArgs(dir), {{"KONG_PING_INTERVAL", "10s"}}).ping_interval,
            absl::Seconds(30));
  EXPECT_EQ(ParseOk(RequiredArgs(dir), {{"TETHER_PING_INTERVAL", "10s"}}).ping_interval,
            absl::Seconds(10));
}

TEST(ParseSettingsTest, KongEnvironmentAloneIsEnough) {
  // A Kong data plane's environment configures the connection without any flag.
  TempDir dir;
  const Settings s =
      ParseOk({"--data-dir=" + dir.Sub("data")},
              {
                  {"KONG_CLUSTER_CONTROL_PLANE", "cp.internal:8005"},
                  {"KONG_CLUSTER_MTLS", "pki"},
                  {"KONG_CLUSTER_CERT", FixtureCert("kong_clustering_client.crt")},
                  {"KONG_CLUSTER_CERT_KEY", FixtureCert("kong_clustering_client.key")},
                  {"KONG_CLUSTER_CA_CERT", FixtureCert("kong_clustering_ca.crt")},
                  {"KONG_CLUSTER_SERVER_NAME", "kong_clustering"},
                  {"KONG_CLUSTER_DP_LABELS", "deployment:mycloud,region:us-east-1"},
              });
  EXPECT_EQ(s.control_plane, (HostPort{"cp.internal", 8005}));
  EXPECT_EQ(s.mtls, MtlsMode::kPki);
  EXPECT_EQ(s.cert_path, FixtureCert("kong_clustering_client.crt"));
  EXPECT_EQ(s.key_path, FixtureCert("kong_clustering_client.key"));
  EXPECT_EQ(s.ca_cert_path, FixtureCert("kong_clustering_ca.crt"));
  EXPECT_EQ(s.server_name, "kong_clustering");
  EXPECT_EQ(s.labels, (std::map<std::string, std::string>{{"deployment", "mycloud"},
                                                          {"region", "us-east-1"}}));
}

TEST(ParseSettingsTest, AcceptsFlagEqualsValueAndFlagSpaceValue) {
  TempDir dir;
  const Settings s =
      ParseOk(Concat(RequiredArgs(dir), {"--ping-interval", "10s", "--ping-timeout=20s"}));
  EXPECT_EQ(s.ping_interval, absl::Seconds(10));
  EXPECT_EQ(s.ping_timeout, absl::Seconds(20));
}

TEST(ParseSettingsTest, LastOfARepeatedFlagWins) {
  // So that a wrapper script can append overrides to its own defaults.
  TempDir dir;
  EXPECT_EQ(ParseOk(Concat(RequiredArgs(dir), {"--ping-interval=1s", "--ping-interval", "2s"}))
                .ping_interval,
            absl::Seconds(2));
}

TEST(ParseSettingsTest, ParsesDurations) {
  struct Case {
    const char* text;
    absl::Duration want;
  };
  const Case cases[] = {{"500ms", absl::Milliseconds(500)},
                        {"2s", absl::Seconds(2)},
                        {"1m", absl::Minutes(1)},
                        {"1m30s", absl::Seconds(90)},
                        {"1.5s", absl::Milliseconds(1500)}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    TempDir dir;
    const std::string flag = std::string("--connect-timeout=") + c.text;
    EXPECT_EQ(ParseOk(Concat(RequiredArgs(dir), {flag})).connect_timeout, c.want);
  }
}

TEST(ParseSettingsTest, ParsesByteCountsWithBinarySuffixes) {
  TempDir dir;
  const Settings s = ParseOk(
      Concat(RequiredArgs(dir), {"--cluster-max-payload=8MiB", "--cluster-max-inflated=2GiB"}));
  EXPECT_EQ(s.max_payload_bytes, 8 << 20);
  EXPECT_EQ(s.max_inflated_bytes, int64_t{2} << 30);
}

// The decompression-bomb cap follows the payload limit unless set, so raising one raises both.
TEST(ParseSettingsTest, MaxInflatedAutoFollowsMaxPayload) {
  TempDir dir;
  EXPECT_EQ(ParseOk(Concat(RequiredArgs(dir), {"--cluster-max-payload=32MiB"})).max_inflated_bytes,
            int64_t{320} << 20);
  EXPECT_EQ(ParseOk(Concat(RequiredArgs(dir),
                           {"--cluster-max-inflated=auto", "--cluster-max-payload=4MiB"}))
                .max_inflated_bytes,
            int64_t{40} << 20);
}

TEST(ParseSettingsTest, ParsesControlPlaneForms) {
  struct Case {
    const char* text;
    HostPort want;
    const char* formatted;
  };
  const Case cases[] = {
      {"cp.example.com:8005", {"cp.example.com", 8005}, "cp.example.com:8005"},
      {"cp.example.com", {"cp.example.com", 443}, "cp.example.com:443"},
      {"10.0.0.1:9000", {"10.0.0.1", 9000}, "10.0.0.1:9000"},
      {"[::1]:8005", {"::1", 8005}, "[::1]:8005"},
      {"[fe80::1]", {"fe80::1", 443}, "[fe80::1]:443"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    TempDir dir;
    const Settings s =
        ParseOk(Concat(RequiredArgs(dir), {std::string("--cluster-control-plane=") + c.text}));
    EXPECT_EQ(s.control_plane, c.want);
    EXPECT_EQ(FormatHostPort(s.control_plane), c.formatted);
  }
}

TEST(ParseSettingsTest, SplitsLabelsAtTheFirstColon) {
  TempDir dir;
  const Settings s =
      ParseOk(Concat(RequiredArgs(dir), {"--cluster-dp-labels= zone:eu:west-1 , tier:gold"}));
  EXPECT_EQ(s.labels,
            (std::map<std::string, std::string>{{"tier", "gold"}, {"zone", "eu:west-1"}}));
}

TEST(ParseSettingsTest, ListsPluginsSortedByLowercaseNameAtTheNodeVersion) {
  // A name without a version is advertised at --node-version; the list is sorted as Kong sends it.
  TempDir dir;
  const Settings s = ParseOk(Concat(
      RequiredArgs(dir), {"--node-version=3.9.1", "--plugins=zeta,Beta:1.2.3,alpha,key-auth"}));
  EXPECT_EQ(s.plugins,
            (std::vector<Plugin>{
                {"alpha", "3.9.1"}, {"Beta", "1.2.3"}, {"key-auth", "3.9.1"}, {"zeta", "3.9.1"}}));
}

TEST(ParseSettingsTest, PluginsFollowTheNodeVersionWhateverTheOrderAndSource) {
  // --plugins reads --node-version; it is applied after every other flag, so neither the order on
  // the command line nor which source gives which value matters.
  TempDir dir;
  const std::vector<Plugin> want = {{"alpha", "3.4.0"}, {"beta", "1.0.0"}};
  EXPECT_EQ(
      ParseOk(Concat(RequiredArgs(dir), {"--plugins=alpha,beta:1.0.0", "--node-version=3.4.0"}))
          .plugins,
      want);
  EXPECT_EQ(
      ParseOk(Concat(RequiredArgs(dir), {"--node-version=3.4.0", "--plugins=alpha,beta:1.0.0"}))
          .plugins,
      want);
  EXPECT_EQ(ParseOk(Concat(RequiredArgs(dir), {"--plugins=alpha,beta:1.0.0"}),
                    {{"TETHER_NODE_VERSION", "3.4.0"}})
                .plugins,
            want);
  EXPECT_EQ(ParseOk(Concat(RequiredArgs(dir), {"--node-version=3.4.0"}),
                    {{"TETHER_PLUGINS", "alpha,beta:1.0.0"}})
                .plugins,
            want);
  EXPECT_EQ(
      ParseOk(Concat(RequiredArgs(dir), {"--node-version=3.4.0", "--plugins=bundled"})).plugins,
      BundledPlugins("3.4.0"));
}

TEST(ParseSettingsTest, BundledKeywordAddsBundledPluginsAndExplicitEntriesOverrideThem) {
  TempDir dir;
  const Settings s =
      ParseOk(Concat(RequiredArgs(dir), {"--node-version=3.10.0",
                                         "--plugins=bundled,key-auth:3.9.0,my-plugin:0.1.0"}));
  std::vector<Plugin> want = BundledPlugins("3.10.0");
  for (Plugin& p : want) {
    if (p.name == "key-auth") p.version = "3.9.0";
  }
  want.push_back({"my-plugin", "0.1.0"});
  std::sort(want.begin(), want.end(),
            [](const Plugin& a, const Plugin& b) { return a.name < b.name; });
  EXPECT_EQ(s.plugins, want);
}

TEST(ParseSettingsTest, PluginsOffAdvertisesNone) {
  TempDir dir;
  EXPECT_TRUE(ParseOk(Concat(RequiredArgs(dir), {"--plugins=off"})).plugins.empty());
}

TEST(ParseSettingsTest, ReadsPluginsFromFile) {
  // @file takes one entry a line or comma-separated ones, with blank lines and # comments.
  TempDir dir;
  const std::string path = dir.Sub("plugins.txt");
  std::ofstream(path) << "# our plugins\n"
                         "key-auth\n"
                         "\n"
                         "acl:3.10.0, cors   # inline comment\n"
                         "my-plugin:1.0.0\n";
  const Settings s =
      ParseOk(Concat(RequiredArgs(dir), {"--node-version=3.10.0", "--plugins=@" + path}));
  EXPECT_EQ(
      s.plugins,
      (std::vector<Plugin>{
          {"acl", "3.10.0"}, {"cors", "3.10.0"}, {"key-auth", "3.10.0"}, {"my-plugin", "1.0.0"}}));
}

TEST(ParseSettingsTest, RejectsBadCommandLines) {
  // Each bad value fails with a message naming the flag, the value and, for the environment, where
  // it came from.
  struct Case {
    const char* name;
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    const char* want;
  };
  const Case cases[] = {
      {"unknown flag", {"--no-such-flag=1"}, {}, "unknown flag --no-such-flag"},
      {"unknown start-up policy",
       {"--startup-policy=serve-stale"},
       {},
       "--startup-policy \"serve-stale\": want serve-cache or wait-for-cp"},
      {"negative cache age", {"--max-cache-age=-1s"}, {}, "--max-cache-age -1s must not be"},
      {"zero cert check interval",
       {"--cert-check-interval=0s"},
       {},
       "--cert-check-interval 0 must be positive"},
      {"positional argument", {"extra"}, {}, "unexpected argument \"extra\""},
      {"missing value at the end", {"--ping-interval"}, {}, "--ping-interval needs a value"},
      {"missing value before a flag",
       {"--ping-interval", "--ping-timeout=50s"},
       {},
       "--ping-interval needs a value"},
      {"empty value", {"--node-version="}, {}, "--node-version needs a value"},
      {"duration without unit",
       {"--ping-interval=30"},
       {},
       "--ping-interval \"30\": not a duration (want e.g. 500ms, 2s or 1m)"},
      {"infinite duration",
       {"--connect-timeout=inf"},
       {},
       "--connect-timeout \"inf\": not a finite"},
      {"duration from env",
       {},
       {{"TETHER_PING_INTERVAL", "soon"}},
       "--ping-interval \"soon\" (from TETHER_PING_INTERVAL): not a duration"},
      {"bad byte count",
       {"--cluster-max-payload=16MB"},
       {},
       "--cluster-max-payload \"16MB\": not a byte count"},
      {"negative byte count",
       {"--cluster-max-inflated=-1"},
       {},
       "--cluster-max-inflated \"-1\": not a byte count"},
      {"port out of range",
       {"--cluster-control-plane=cp:70000"},
       {},
       "--cluster-control-plane \"cp:70000\": port \"70000\" must be a number from 1 to 65535"},
      {"port zero",
       {"--cluster-control-plane=cp:0"},
       {},
       "port \"0\" must be a number from 1 to 65535"},
      {"ipv6 without brackets",
       {"--cluster-control-plane=::1:8005"},
       {},
       "put an ipv6 address in brackets"},
      {"unclosed bracket", {"--cluster-control-plane=[::1:8005"}, {}, "missing ]"},
      {"scheme", {"--cluster-control-plane=wss://cp:8005"}, {}, "without a scheme"},
      {"missing host", {"--cluster-control-plane=:8005"}, {}, "missing host"},
      {"value from kong env",
       {},
       {{"KONG_CLUSTER_MTLS", "PKI"}},
       "--cluster-mtls \"PKI\" (from KONG_CLUSTER_MTLS): want shared or pki"},
      {"bad mtls",
       {"--cluster-mtls=pki_check_cn"},
       {},
       "--cluster-mtls \"pki_check_cn\": want shared or pki"},
      {"label without colon", {"--cluster-dp-labels=region"}, {}, "label \"region\" has no ':'"},
      {"label key twice", {"--cluster-dp-labels=a:1,a:2"}, {}, "label key \"a\" given twice"},
      {"empty label",
       {"--cluster-dp-labels=a:1,"},
       {},
       "--cluster-dp-labels \"a:1,\": empty label"},
      {"plugin with empty version", {"--plugins=acl:"}, {}, "plugin \"acl:\" has an empty version"},
      {"plugin twice", {"--plugins=acl,ACL:1.0.0"}, {}, "plugin \"ACL\" given twice"},
      {"off with others", {"--plugins=off,acl"}, {}, "off cannot be combined"},
      {"empty plugin entry", {"--plugins=acl,,cors"}, {}, "--plugins \"acl,,cors\": empty entry"},
      {"missing plugin file",
       {"--plugins=@/nonexistent/plugins.txt"},
       {},
       "--plugins \"@/nonexistent/plugins.txt\": cannot read /nonexistent/plugins.txt"},
      {"bad log level",
       {"--log-level=loud"},
       {},
       "--log-level \"loud\": want debug, info, warn or error"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    // Put the case's args last so that "needs a value" sees nothing after them.
    const absl::StatusOr<ParseOutcome> outcome = Parse(Concat(RequiredArgs(dir), c.args), c.env);
    ASSERT_FALSE(outcome.ok());
    EXPECT_EQ(outcome.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(outcome.status().message(), HasSubstr(c.want));
  }
}

TEST(ParseSettingsTest, RunsValidation) {
  // ParseSettings applies ValidateSettings (validate_test.cc has every rule).
  TempDir dir;
  const absl::StatusOr<ParseOutcome> outcome =
      Parse(Concat(RequiredArgs(dir), {"--ping-interval=30s", "--ping-timeout=5s"}));
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().message(), "--ping-timeout 5s must exceed --ping-interval 30s");
}

TEST(ParseSettingsTest, RequiresControlPlaneAndCertificates) {
  TempDir dir;
  const absl::StatusOr<ParseOutcome> outcome = Parse({"--data-dir=" + dir.Sub("data")});
  ASSERT_FALSE(outcome.ok());
  EXPECT_THAT(outcome.status().message(), HasSubstr("--cluster-control-plane is required"));
}

TEST(ParseSettingsTest, NeverRepeatsInlineKeyMaterial) {
  // Kong accepts PEM text in KONG_CLUSTER_CERT_KEY; tether refuses it without echoing the key.
  TempDir dir;
  std::ifstream key_file(FixtureCert("kong_clustering.key"));
  const std::string pem((std::istreambuf_iterator<char>(key_file)), {});
  ASSERT_THAT(pem, HasSubstr("PRIVATE KEY"));
  const absl::StatusOr<ParseOutcome> outcome = Parse(
      {"--cluster-control-plane=cp:8005", "--cluster-cert=" + FixtureCert("kong_clustering.crt"),
       "--data-dir=" + dir.Sub("data")},
      {{"KONG_CLUSTER_CERT_KEY", pem}});
  ASSERT_FALSE(outcome.ok());
  EXPECT_THAT(outcome.status().message(),
              HasSubstr("--cluster-cert-key (from KONG_CLUSTER_CERT_KEY): inline pem is not "
                        "supported"));
  EXPECT_THAT(outcome.status().message(), Not(HasSubstr("PRIVATE")));
  EXPECT_THAT(outcome.status().message(), Not(HasSubstr("MII")));
}

TEST(ParseSettingsTest, DoesNoIoAndLeavesTheNodeIdentityToPrepareNode) {
  // A data dir (and its parent) that do not exist parse fine, and nothing is created.
  TempDir dir;
  std::vector<std::string> args = RequiredArgs(dir);
  args.back() = "--data-dir=" + dir.Sub("missing/data");
  const Settings s = ParseOk(args);
  EXPECT_EQ(s.data_dir, dir.Sub("missing/data"));
  EXPECT_EQ(s.node_id, "");
  EXPECT_EQ(s.node_hostname, "");
  EXPECT_EQ(ModeOf(dir.Sub("missing")), -1);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(ParseSettingsTest, InvalidNodeIdIsAStartUpErrorAndWritesNothing) {
  TempDir dir;
  const absl::StatusOr<ParseOutcome> outcome =
      Parse(Concat(RequiredArgs(dir), {"--node-id=not-a-uuid"}));
  ASSERT_FALSE(outcome.ok());
  EXPECT_THAT(outcome.status().message(), HasSubstr("--node-id \"not-a-uuid\" is not a uuid"));
  EXPECT_EQ(ModeOf(dir.Sub("data")), -1);
}

TEST(ParseSettingsTest, HelpWinsOverABrokenCommandLine) {
  for (const char* help : {"--help", "-h"}) {
    SCOPED_TRACE(help);
    const absl::StatusOr<ParseOutcome> outcome = Parse({"--no-such-flag", help});
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    ASSERT_TRUE(std::holds_alternative<PrintAndExit>(*outcome));
    EXPECT_EQ(std::get<PrintAndExit>(*outcome).text, HelpText());
  }
}

TEST(ParseSettingsTest, VersionPrintsTheTetherVersion) {
  const absl::StatusOr<ParseOutcome> outcome = Parse({"--version"});
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_TRUE(std::holds_alternative<PrintAndExit>(*outcome));
  EXPECT_EQ(std::get<PrintAndExit>(*outcome).text, VersionText());
  EXPECT_THAT(VersionText(), HasSubstr("tether "));
  EXPECT_THAT(VersionText(), HasSubstr("--node-version auto"));
}

TEST(HelpTextTest, ListsEveryFlagWithItsEnvironmentNames) {
  // The help is generated from the flag table; this pins the table's public surface.
  // The flags that also have Kong's environment name.
  const std::set<std::string> kong_flags = {"cluster-control-plane",
                                            "cluster-mtls",
                                            "cluster-cert",
                                            "cluster-cert-key",
                                            "cluster-ca-cert",
                                            "cluster-server-name",
                                            "cluster-dp-labels",
                                            "cluster-max-payload",
                                            "cluster-max-inflated",
                                            "cluster-max-entities",
                                            "cluster-max-entity-types",
                                            "cluster-max-metadata",
                                            "cluster-use-proxy",
                                            "proxy-server",
                                            "proxy-server-ssl-verify"};
  const std::set<std::string> other_flags = {"connect-timeout",
                                             "ping-interval",
                                             "ping-timeout",
                                             "reconnect-backoff-min",
                                             "reconnect-backoff-max",
                                             "node-id",
                                             "node-hostname",
                                             "node-version",
                                             "plugins",
                                             "data-dir",
                                             "grpc-listen",
                                             "grpc-allow-non-loopback",
                                             "grpc-tls-cert",
                                             "grpc-tls-key",
                                             "grpc-client-ca",
                                             "grpc-allowed-uids",
                                             "grpc-allowed-gids",
                                             "grpc-update-cache-bytes",
                                             "grpc-max-subscribers",
                                             "grpc-max-streams-per-connection",
                                             "grpc-memory-quota",
                                             "grpc-reflection",
                                             "snapshot-history-bytes",
                                             "log-level",
                                             "log-format",
                                             "write-config",
                                             "write-config-types",
                                             "on-change-exec",
                                             "on-change-timeout",
                                             "config",
                                             "report-hash",
                                             "startup-policy",
                                             "max-cache-age",
                                             "guard-empty-config",
                                             "cert-check-interval",
                                             "ops-listen",
                                             "drain-time"};
  const std::string help = HelpText();

  // Flags appear as "  --name value" lines, each followed by its help and an "env:" line.
  std::set<std::string> listed;
  std::string current;
  for (absl::string_view line : absl::StrSplit(help, '\n')) {
    if (absl::ConsumePrefix(&line, "  --")) {
      current = std::string(line.substr(0, line.find(' ')));
      listed.insert(current);
    } else if (absl::ConsumePrefix(&line, "      env: ")) {
      std::string upper = absl::AsciiStrToUpper(current);
      std::replace(upper.begin(), upper.end(), '-', '_');
      const std::string want =
          kong_flags.contains(current) ? "TETHER_" + upper + ", KONG_" + upper : "TETHER_" + upper;
      EXPECT_EQ(line, want) << "flag --" << current;
    }
  }
  std::set<std::string> want = kong_flags;
  want.insert(other_flags.begin(), other_flags.end());
  want.insert("help");
  want.insert("version");
  EXPECT_EQ(listed, want);
  for (const char* kong_env :
       {"KONG_CLUSTER_CONTROL_PLANE", "KONG_CLUSTER_CERT_KEY", "KONG_CLUSTER_MTLS",
        "KONG_CLUSTER_CA_CERT", "KONG_CLUSTER_SERVER_NAME", "KONG_CLUSTER_DP_LABELS",
        "KONG_CLUSTER_MAX_PAYLOAD"}) {
    EXPECT_THAT(help, HasSubstr(kong_env));
  }
}

TEST(HelpTextTest, ShowsDefaults) {
  const std::string help = HelpText();
  EXPECT_THAT(help, HasSubstr("  --ping-timeout duration\n"));
  EXPECT_THAT(help, HasSubstr("default: 45s\n"));
  EXPECT_THAT(help, HasSubstr("default: 16777216\n"));
  EXPECT_THAT(help, HasSubstr("default: /var/lib/tether\n"));
}

}  // namespace
}  // namespace tether::settings

#include "sidecar/settings/validate.h"

#include <functional>
#include <variant>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/sidecar/settings/test_util.h"

namespace tether::settings {
namespace {

using testing::FixtureCert;
using ::testing::HasSubstr;
using testing::Parse;
using testing::RequiredArgs;
using testing::TempDir;

class ValidateSettingsTest : public ::testing::Test {
 protected:
  // Valid settings with every default, built the way the daemon builds them.
  Settings Valid() {
    const absl::StatusOr<ParseOutcome> outcome = Parse(RequiredArgs(dir_));
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    if (!outcome.ok() || !std::holds_alternative<Settings>(*outcome)) return Settings{};
    return std::get<Settings>(*outcome);
  }

  // Valid settings in pki mode.
  Settings ValidPki() {
    Settings s = Valid();
    s.mtls = MtlsMode::kPki;
    s.cert_path = FixtureCert("kong_clustering_client.crt");
    s.key_path = FixtureCert("kong_clustering_client.key");
    s.ca_cert_path = FixtureCert("kong_clustering_ca.crt");
    return s;
  }

  TempDir dir_;
};

std::map<std::string, std::string> NLabels(int n) {
  std::map<std::string, std::string> labels;
  for (int i = 0; i < n; ++i) labels[absl::StrCat("key", i)] = "value";
  return labels;
}

TEST_F(ValidateSettingsTest, AcceptsDefaults) {
  EXPECT_EQ(ValidateSettings(Valid()), absl::OkStatus());
}

TEST_F(ValidateSettingsTest, AcceptsGoodValues) {
  // Values at the edge of each rule that must still pass.
  struct Case {
    const char* name;
    std::function<void(Settings&)> change;
    bool pki = false;
  };
  const Case cases[] = {
      {"pki with ca and server name", [](Settings& s) { s.server_name = "kong_clustering"; }, true},
      {"pki without server name", [](Settings& s) {}, true},
      {"kong's own label example",
       [](Settings& s) {
         s.labels = {{"deployment", "mycloud"}, {"region", "us-east-1"}};
       }},
      {"ten labels", [](Settings& s) { s.labels = NLabels(10); }},
      {"63-char key and value",
       [](Settings& s) {
         s.labels = {{std::string(63, 'k'), std::string(63, 'v')}};
       }},
      {"label punctuation inside",
       [](Settings& s) {
         s.labels = {{"A_b.c:d-E", "x:y.z_w-1"}, {"k", "1"}};
       }},
      {"key containing kong later",
       [](Settings& s) {
         s.labels = {{"my-kong", "v"}};
       }},
      {"minimum payload", [](Settings& s) { s.max_payload_bytes = 4194304; }},
      {"inflated equal to payload",
       [](Settings& s) { s.max_inflated_bytes = s.max_payload_bytes; }},
      {"sub-second timers",
       [](Settings& s) {
         s.ping_interval = absl::Milliseconds(100);
         s.ping_timeout = absl::Milliseconds(150);
         s.connect_timeout = absl::Milliseconds(500);
       }},
      {"equal backoff bounds", [](Settings& s) { s.backoff_max = s.backoff_min; }},
      {"upper-case node id",
       [](Settings& s) { s.node_id = "9F6C2D1E-0B4A-4C8E-9D1F-3A2B5C6D7E8F"; }},
      {"empty node id (generated later)", [](Settings& s) { s.node_id.clear(); }},
      {"empty hostname (PrepareNode sets it)", [](Settings& s) { s.node_hostname.clear(); }},
      {"ip as hostname", [](Settings& s) { s.node_hostname = "10.1.2.3"; }},
      {"fqdn with trailing dot", [](Settings& s) { s.node_hostname = "node-1.example.com."; }},
      {"version with suffix", [](Settings& s) { s.node_version = "3.10.0-enterprise-version"; }},
      {"four-part version", [](Settings& s) { s.node_version = "3.9.1.2"; }},
      {"no plugins", [](Settings& s) { s.plugins.clear(); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Settings s = c.pki ? ValidPki() : Valid();
    c.change(s);
    EXPECT_EQ(ValidateSettings(s), absl::OkStatus());
  }
}

TEST_F(ValidateSettingsTest, RejectsEachBrokenRuleWithItsMessage) {
  struct Case {
    const char* name;
    std::function<void(Settings&)> change;
    const char* want;
    bool pki = false;
  };
  const Case cases[] = {
      // Control plane.
      {"no control plane", [](Settings& s) { s.control_plane = {}; },
       "--cluster-control-plane is required"},
      {"bad control plane host", [](Settings& s) { s.control_plane.host = "cp example"; },
       "--cluster-control-plane host \"cp example\" is not a valid hostname or ip address"},
      {"control plane port 0", [](Settings& s) { s.control_plane.port = 0; },
       "--cluster-control-plane port must not be 0"},
      // Certificates.
      {"no cert", [](Settings& s) { s.cert_path.clear(); }, "--cluster-cert is required"},
      {"no key", [](Settings& s) { s.key_path.clear(); }, "--cluster-cert-key is required"},
      {"missing cert file", [](Settings& s) { s.cert_path = "/nonexistent/dp.crt"; },
       "--cluster-cert /nonexistent/dp.crt: cannot read: No such file or directory"},
      {"missing key file", [](Settings& s) { s.key_path = "/nonexistent/dp.key"; },
       "--cluster-cert-key /nonexistent/dp.key: cannot read: No such file or directory"},
      {"cert is a directory", [](Settings& s) { s.cert_path = "/"; },
       "--cluster-cert /: not a regular file"},
      {"pki without ca", [](Settings& s) { s.ca_cert_path.reset(); },
       "--cluster-mtls pki requires --cluster-ca-cert", true},
      {"missing ca file", [](Settings& s) { s.ca_cert_path = "/nonexistent/ca.crt"; },
       "--cluster-ca-cert /nonexistent/ca.crt: cannot read", true},
      {"bad server name", [](Settings& s) { s.server_name = "kong clustering"; },
       "--cluster-server-name \"kong clustering\" is not a valid hostname", true},
      {"ca in shared mode",
       [](Settings& s) { s.ca_cert_path = FixtureCert("kong_clustering_ca.crt"); },
       "--cluster-ca-cert is only used with --cluster-mtls pki"},
      {"server name in shared mode", [](Settings& s) { s.server_name = "kong_clustering"; },
       "--cluster-server-name is only used with --cluster-mtls pki"},
      // Labels (Kong's rules).
      {"eleven labels", [](Settings& s) { s.labels = NLabels(11); },
       "--cluster-dp-labels has 11 labels, at most 10 are allowed"},
      {"empty key",
       [](Settings& s) {
         s.labels = {{"", "v"}};
       },
       "--cluster-dp-labels key \"\" must have 1 to 63 characters"},
      {"64-char key",
       [](Settings& s) {
         s.labels = {{std::string(64, 'k'), "v"}};
       },
       "--cluster-dp-labels key \"kkkk"},
      {"empty value",
       [](Settings& s) {
         s.labels = {{"k", ""}};
       },
       "--cluster-dp-labels value \"\" must have 1 to 63 characters"},
      {"64-char value",
       [](Settings& s) {
         s.labels = {{"k", std::string(64, 'v')}};
       },
       "must have 1 to 63 characters"},
      {"key starting with a dash",
       [](Settings& s) {
         s.labels = {{"-k", "v"}};
       },
       "--cluster-dp-labels key \"-k\" must start and end with a letter or digit"},
      {"key ending with a dot",
       [](Settings& s) {
         s.labels = {{"k.", "v"}};
       },
       "--cluster-dp-labels key \"k.\" must start and end"},
      {"key with a space",
       [](Settings& s) {
         s.labels = {{"my key", "v"}};
       },
       "--cluster-dp-labels key \"my key\" must start and end"},
      {"value with a slash",
       [](Settings& s) {
         s.labels = {{"url", "a/b"}};
       },
       "--cluster-dp-labels value \"a/b\" must start and end"},
      {"value ending with underscore",
       [](Settings& s) {
         s.labels = {{"k", "v_"}};
       },
       "--cluster-dp-labels value \"v_\""},
      {"reserved prefix kong",
       [](Settings& s) {
         s.labels = {{"kong-zone", "v"}};
       },
       "--cluster-dp-labels key \"kong-zone\" must not start with kong, konnect, insomnia, mesh "
       "or kic"},
      {"reserved prefix any case",
       [](Settings& s) {
         s.labels = {{"Konnect1", "v"}};
       },
       "key \"Konnect1\" must not start with kong"},
      {"reserved prefix kic",
       [](Settings& s) {
         s.labels = {{"kic", "v"}};
       },
       "key \"kic\" must not start with"},
      // Limits.
      {"payload below kong's minimum", [](Settings& s) { s.max_payload_bytes = 4194303; },
       "--cluster-max-payload 4194303 must be at least 4194304"},
      {"inflated below payload", [](Settings& s) { s.max_inflated_bytes = 16777215; },
       "--cluster-max-inflated 16777215 must be at least --cluster-max-payload 16777216"},
      // Timers.
      {"zero connect timeout", [](Settings& s) { s.connect_timeout = absl::ZeroDuration(); },
       "--connect-timeout 0 must be positive and finite"},
      {"negative ping interval", [](Settings& s) { s.ping_interval = absl::Seconds(-1); },
       "--ping-interval -1s must be positive and finite"},
      {"infinite ping timeout", [](Settings& s) { s.ping_timeout = absl::InfiniteDuration(); },
       "--ping-timeout inf must be positive and finite"},
      {"ping timeout below interval", [](Settings& s) { s.ping_timeout = absl::Seconds(5); },
       "--ping-timeout 5s must exceed --ping-interval 30s"},
      {"ping timeout equal to interval", [](Settings& s) { s.ping_timeout = absl::Seconds(30); },
       "--ping-timeout 30s must exceed --ping-interval 30s"},
      {"zero backoff", [](Settings& s) { s.backoff_min = absl::ZeroDuration(); },
       "--reconnect-backoff-min 0 must be positive"},
      {"backoff max below min", [](Settings& s) { s.backoff_max = absl::Seconds(1); },
       "--reconnect-backoff-max 1s must be at least --reconnect-backoff-min 5s"},
      // Node identity.
      {"bad node id", [](Settings& s) { s.node_id = "not-a-uuid"; },
       "--node-id \"not-a-uuid\" is not a uuid"},
      {"node id with braces",
       [](Settings& s) { s.node_id = "{9f6c2d1e-0b4a-4c8e-9d1f-3a2b5c6d7e8f}"; }, "is not a uuid"},
      {"hostname with port", [](Settings& s) { s.node_hostname = "node-1:8000"; },
       "--node-hostname \"node-1:8000\" must not have a port"},
      {"hostname with empty label", [](Settings& s) { s.node_hostname = "node..example"; },
       "--node-hostname \"node..example\" is not a valid hostname or ip address"},
      {"hostname label ending in dash", [](Settings& s) { s.node_hostname = "node-.example"; },
       "is not a valid hostname"},
      {"hostname with bad char", [](Settings& s) { s.node_hostname = "node!1"; },
       "is not a valid hostname"},
      {"short version", [](Settings& s) { s.node_version = "3.10"; },
       "--node-version \"3.10\" must look like 3.10.0"},
      {"version with v", [](Settings& s) { s.node_version = "v3.10.0"; },
       "--node-version \"v3.10.0\" must look like"},
      {"version with a space", [](Settings& s) { s.node_version = "3.10.0 beta"; },
       "must look like"},
      {"version with empty segment", [](Settings& s) { s.node_version = "3.10.0..1"; },
       "must look like"},
      {"bad plugin name",
       [](Settings& s) {
         s.plugins = {{"my plugin", "1.0.0"}};
       },
       "--plugins name \"my plugin\" must be non-empty letters, digits, - and _"},
      {"bad plugin version",
       [](Settings& s) {
         s.plugins = {{"acl", "latest"}};
       },
       "--plugins acl version \"latest\" must look like 3.10.0"},
      {"duplicate plugin",
       [](Settings& s) {
         s.plugins = {{"acl", "1.0.0"}, {"ACL", "1.0.0"}};
       },
       "--plugins lists ACL twice"},
      {"unsorted plugins",
       [](Settings& s) {
         s.plugins = {{"cors", "1.0.0"}, {"acl", "1.0.0"}};
       },
       "--plugins must be sorted by lowercase name"},
      // Local.
      {"empty data dir", [](Settings& s) { s.data_dir.clear(); }, "--data-dir must not be empty"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Settings s = c.pki ? ValidPki() : Valid();
    c.change(s);
    const absl::Status st = ValidateSettings(s);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    EXPECT_THAT(st.message(), HasSubstr(c.want));
  }
}

TEST(IsValidHostTest, FollowsKongHostRules) {
  for (const char* good :
       {"localhost", "example.com", "example.com.", "node_1.example", "-lead.example",
        "xn--bcher-kva.example", "127.0.0.1", "::1", "fe80::1", "2001:db8::8:800:200c:417a", "a"}) {
    SCOPED_TRACE(good);
    EXPECT_TRUE(IsValidHost(good));
  }
  for (const char* bad : {"", ".", "a..b", "trail-.example", "host:80", "1.2.3", "256.1.1.1",
                          "1.2.3.4:80", "[::1]", ":::1", "a b", "a/b", "ex!ample", "h\xc3\xa9"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(IsValidHost(bad));
  }
}

TEST(IsValidUuidTest, AcceptsHexUuidsOfEitherCase) {
  EXPECT_TRUE(IsValidUuid("9f6c2d1e-0b4a-4c8e-9d1f-3a2b5c6d7e8f"));
  EXPECT_TRUE(IsValidUuid("9F6C2D1E-0B4A-4C8E-9D1F-3A2B5C6D7E8F"));
  EXPECT_TRUE(IsValidUuid("00000000-0000-0000-0000-000000000000"));
  for (const char* bad :
       {"", "9f6c2d1e-0b4a-4c8e-9d1f-3a2b5c6d7e8", "9f6c2d1e0b4a4c8e9d1f3a2b5c6d7e8f",
        "9f6c2d1e-0b4a-4c8e-9d1f-3a2b5c6d7e8g", "9f6c2d1e-0b4a-4c8e-9d1f3-a2b5c6d7e8f",
        " 9f6c2d1e-0b4a-4c8e-9d1f-3a2b5c6d7e8f"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(IsValidUuid(bad));
  }
}

TEST(IsValidKongVersionTest, NeedsMajorMinorPatch) {
  for (const char* good :
       {"3.10.0", "0.1.0", "3.10.0-enterprise-version", "3.9.1.2", "10.20.30_x"}) {
    SCOPED_TRACE(good);
    EXPECT_TRUE(IsValidKongVersion(good));
  }
  for (const char* bad : {"", "3", "3.10", "3.10.", "v3.10.0", "3..10.0", "3.10.0..1", "3.10.x",
                          "3.10.0 beta", "3.10.0&node_id=x"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(IsValidKongVersion(bad));
  }
}

}  // namespace
}  // namespace tether::settings

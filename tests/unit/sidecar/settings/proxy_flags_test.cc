// --cluster-use-proxy, --proxy-server and --proxy-server-ssl-verify: the URL forms Kong accepts,
// Kong's environment names, and errors that never show the proxy password.
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/sidecar/settings/test_util.h"

namespace tether::settings {
namespace {

using testing::Concat;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::Parse;
using testing::RequiredArgs;
using testing::TempDir;

absl::StatusOr<Settings> ParseArgs(const std::vector<std::string>& args,
                                   std::map<std::string, std::string> env = {}) {
  TempDir dir;
  absl::StatusOr<ParseOutcome> outcome = Parse(Concat(RequiredArgs(dir), args), std::move(env));
  if (!outcome.ok()) return outcome.status();
  return std::get<Settings>(*std::move(outcome));
}

TEST(ProxyFlagsTest, DefaultsToNoProxyAndVerifiedTls) {
  absl::StatusOr<Settings> s = ParseArgs({});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->cluster_use_proxy);
  EXPECT_FALSE(s->proxy_server.has_value());
  EXPECT_TRUE(s->proxy_server_ssl_verify);
}

TEST(ProxyFlagsTest, ParsesProxyUrls) {
  using Scheme = ProxyServer::Scheme;
  struct Case {
    const char* url;
    ProxyServer want;
  };
  const Case cases[] = {
      {"http://proxy.internal:3128", {Scheme::kHttp, {"proxy.internal", 3128}, "", ""}},
      {"http://proxy.internal", {Scheme::kHttp, {"proxy.internal", 80}, "", ""}},
      {"https://proxy.internal/", {Scheme::kHttps, {"proxy.internal", 443}, "", ""}},
      {"http://[::1]:3128", {Scheme::kHttp, {"::1", 3128}, "", ""}},
      {"http://alice:pw@10.0.0.1:3128", {Scheme::kHttp, {"10.0.0.1", 3128}, "alice", "pw"}},
      // Percent-decoded; an unencoded '@' or ':' in the password is taken as typed.
      {"http://al%69ce:p%40ss%3Aw:rd@proxy:3128",
       {Scheme::kHttp, {"proxy", 3128}, "alice", "p@ss:w:rd"}},
      {"http://bob:p@ss@proxy:3128", {Scheme::kHttp, {"proxy", 3128}, "bob", "p@ss"}},
      {"http://bob:@proxy:3128", {Scheme::kHttp, {"proxy", 3128}, "bob", ""}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    absl::StatusOr<Settings> s =
        ParseArgs({"--cluster-use-proxy", std::string("--proxy-server=") + c.url});
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_TRUE(s->cluster_use_proxy);
    EXPECT_EQ(s->proxy_server, c.want);
  }
}

TEST(ProxyFlagsTest, KongEnvironmentNamesWork) {
  // A Kong data plane's environment, with Kong's on for a boolean.
  absl::StatusOr<Settings> s = ParseArgs({}, {{"KONG_CLUSTER_USE_PROXY", "on"},
                                              {"KONG_PROXY_SERVER", "https://proxy:8443"},
                                              {"KONG_PROXY_SERVER_SSL_VERIFY", "off"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->cluster_use_proxy);
  EXPECT_EQ(s->proxy_server->scheme, ProxyServer::Scheme::kHttps);
  EXPECT_EQ(s->proxy_server->address, (HostPort{"proxy", 8443}));
  EXPECT_FALSE(s->proxy_server_ssl_verify);
}

TEST(ProxyFlagsTest, UseProxyNeedsAServer) {
  absl::StatusOr<Settings> s = ParseArgs({"--cluster-use-proxy"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "--cluster-use-proxy needs --proxy-server");
}

TEST(ProxyFlagsTest, RejectsBadUrlsWithoutShowingThePassword) {
  struct Case {
    std::string url;
    const char* want;
  };
  const Case cases[] = {
      {"proxy:3128", "want http://[user:password@]host[:port] or https://..."},
      {"socks5://u:hunter2@proxy:1080", "want http://"},
      {"http://u:hunter2@proxy:3128/path", "no path, query or fragment"},
      {"http://u:hunter2@proxy:3128?x=1", "no path, query or fragment"},
      {"http://u:hunter2%4@proxy:3128", "bad percent-encoding in the user info"},
      {"http://hunter2@proxy:3128", "the user info must be user:password"},
      {"http://:hunter2@proxy:3128", "the user name is empty"},
      {"http://u:hunter2@proxy:0", "port \"0\" must be a number from 1 to 65535"},
      {"http://u:hunter2@:3128", "missing host"},
      {"http://u:hunter2@pro%xy:3128", "--proxy-server host \"pro%xy\" is not a valid hostname"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    absl::StatusOr<Settings> s = ParseArgs({"--cluster-use-proxy", "--proxy-server=" + c.url});
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.status().message(), HasSubstr(c.want));
    EXPECT_THAT(s.status().message(), Not(HasSubstr("hunter2")));
  }
}

}  // namespace
}  // namespace tether::settings

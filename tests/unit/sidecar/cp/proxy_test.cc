// The socket-free parts of the CONNECT step: the Proxy-Authorization value and what each answer
// of the proxy becomes.
#include "sidecar/cp/proxy.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tether::cp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ProxyOptions Proxy(std::string user = "", std::string password = "") {
  ProxyOptions p;
  p.host = "proxy.internal";
  p.port = 3128;
  p.username = std::move(user);
  p.password = std::move(password);
  return p;
}

TEST(ProxyTest, AuthorizationIsBasicOverUserColonPassword) {
  // RFC 7617's own example.
  EXPECT_EQ(ProxyAuthorization(Proxy("Aladdin", "open sesame")),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(ProxyAuthorization(Proxy("user", "")), "Basic dXNlcjo=");
  EXPECT_EQ(ProxyAuthorization(Proxy()), "");
}

TEST(ProxyTest, AddressBracketsIpv6AndNeverShowsCredentials) {
  EXPECT_EQ(ProxyAddress(Proxy("user", "secret")), "proxy.internal:3128");
  ProxyOptions v6 = Proxy();
  v6.host = "::1";
  EXPECT_EQ(ProxyAddress(v6), "[::1]:3128");
}

TEST(ProxyTest, ConnectAnswers) {
  struct Case {
    unsigned status;
    ProxyOptions proxy;
    absl::StatusCode code;
    const char* message;
  };
  const Case cases[] = {
      {200, Proxy(), absl::StatusCode::kOk, ""},
      {204, Proxy(), absl::StatusCode::kOk, ""},
      {407, Proxy("user", "secret"), absl::StatusCode::kFailedPrecondition,
       "proxy connect: proxy proxy.internal:3128 answered 407 Proxy Authentication Required "
       "(check the user:password in --proxy-server)"},
      {407, Proxy(), absl::StatusCode::kFailedPrecondition,
       "proxy connect: proxy proxy.internal:3128 answered 407 Proxy Authentication Required "
       "(--proxy-server has no user:password)"},
      {401, Proxy("user", "secret"), absl::StatusCode::kFailedPrecondition,
       "proxy connect: proxy proxy.internal:3128 answered 401 Unauthorized (check the "
       "user:password in --proxy-server)"},
      {403, Proxy(), absl::StatusCode::kFailedPrecondition,
       "proxy connect: proxy proxy.internal:3128 answered 403 Forbidden (the proxy does not "
       "allow a tunnel to cp:8005)"},
      {400, Proxy(), absl::StatusCode::kFailedPrecondition,
       "proxy connect: proxy proxy.internal:3128 answered 400 Bad Request"},
      {502, Proxy(), absl::StatusCode::kUnavailable,
       "proxy connect: proxy proxy.internal:3128 answered 502 Bad Gateway"},
      {301, Proxy(), absl::StatusCode::kUnavailable,
       "proxy connect: proxy proxy.internal:3128 answered 301 Moved Permanently"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.status);
    const absl::Status st = ConnectAnswerStatus(c.status, c.proxy, "cp:8005");
    EXPECT_EQ(st.code(), c.code);
    EXPECT_EQ(st.message(), c.message);
    EXPECT_THAT(std::string(st.message()), Not(HasSubstr("secret")));
  }
}

}  // namespace
}  // namespace tether::cp

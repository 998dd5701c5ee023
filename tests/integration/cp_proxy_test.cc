// The CP connection through an HTTP CONNECT forward proxy (Kong's cluster_use_proxy): tether's
// App against tether-devcp through a real tinyproxy on loopback (behind a TLS terminator for the
// https cases). Each way the proxy can fail is reported in last_error, and the proxy password
// never appears in an error or a log line.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sidecar/common/log.h"
#include "tests/testing/app_fixture.h"
#include "tests/testing/certs.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/testing.h"
#include "tests/testing/tinyproxy.h"
#include "tests/testing/tls_front.h"
#include "tools/devcp/control_plane.h"

namespace tether {
namespace {

using devcp::EventKind;
using devcp::OfKind;
using ::testing::HasSubstr;
using testing::kWait;
using ::testing::Not;

constexpr char kUser[] = "tether";
// tinyproxy's config takes only letters, digits and "-._" in a password, so the URL
// percent-encodes letters ('p' is %70) to show that tether decodes the user info.
constexpr char kPassword[] = "s3cr3t-pw";
constexpr char kEncodedPassword[] = "s3cr3t-%70w";

class CpProxyTest : public testing::AppTest {
 protected:
  void TearDown() override {
    AppTest::TearDown();
    proxy_.reset();
    log::SetLevel(log::Level::kInfo);
  }

  // Starts tinyproxy; the test skips when it is not installed.
  void StartProxy(const testing::TinyProxy::Options& options) {
    auto proxy = testing::TinyProxy::Start(options);
    if (absl::IsNotFound(proxy.status())) GTEST_SKIP() << proxy.status().message();
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
  }

  // Options allowing CONNECT to devcp's port only.
  testing::TinyProxy::Options ToCp() const {
    testing::TinyProxy::Options o;
    o.connect_ports = {cp_->port()};
    return o;
  }

  std::vector<std::string> ProxyFlags(const std::string& url) const {
    return {"--cluster-use-proxy", "--proxy-server=" + url};
  }

  std::string CpTarget() const { return absl::StrCat("127.0.0.1:", cp_->port()); }

  status::StatusView AwaitError() {
    return AwaitStatus([](const status::StatusView& v) {
      return v.connection.attempts >= 1 && !v.connection.last_error.ok();
    });
  }

  std::unique_ptr<testing::TinyProxy> proxy_;
};

// Through an http proxy: the config arrives, the proxy saw the CONNECT, and the TCP peer is the
// proxy.
TEST_F(CpProxyTest, ConnectsThroughHttpProxy) {
  StartCp();
  auto hash =
      cp_->SetConfig(testing::ReadFile(testing::SourceFile("deploy/examples/kong-config.json")));
  ASSERT_TRUE(hash.ok()) << hash.status();
  StartProxy(ToCp());
  if (!proxy_) return;
  StartApp(ProxyFlags(absl::StrCat("http://127.0.0.1:", proxy_->port())));
  AwaitAppliedHash(*hash);
  EXPECT_TRUE(cp_->WaitForEvent(testing::PingWith(*hash), kWait));
  EXPECT_TRUE(proxy_->WaitForLog(absl::StrCat("CONNECT ", CpTarget(), " HTTP/1.1"), kWait))
      << proxy_->Log();
  EXPECT_EQ(app_->status().Get().connection.peer, absl::StrCat("127.0.0.1:", proxy_->port()));
}

// Basic credentials come from the URL's user info, percent-decoded.
TEST_F(CpProxyTest, AuthenticatesWithTheUrlUserInfo) {
  StartCp();
  testing::TinyProxy::Options o = ToCp();
  o.user = kUser;
  o.password = kPassword;
  StartProxy(o);
  if (!proxy_) return;
  StartApp(ProxyFlags(
      absl::StrCat("http://", kUser, ":", kEncodedPassword, "@127.0.0.1:", proxy_->port())));
  ASSERT_TRUE(cp_->WaitForEvent(OfKind(EventKind::kPing, 1), kWait));
}

// A wrong password is refused (tinyproxy answers 401 here, 407 only when the header is missing),
// reported without the password, which no log line (debug included) shows either.
TEST_F(CpProxyTest, WrongCredentialsAreReportedWithoutThePassword) {
  log::SetLevel(log::Level::kDebug);
  testing::LogCapture logs;
  StartCp();
  testing::TinyProxy::Options o = ToCp();
  o.user = kUser;
  o.password = "the-right-one";
  StartProxy(o);
  if (!proxy_) return;
  StartApp(ProxyFlags(
      absl::StrCat("http://", kUser, ":", kEncodedPassword, "@127.0.0.1:", proxy_->port())));
  const status::StatusView view = AwaitError();
  const std::string error(view.connection.last_error.message());
  EXPECT_EQ(view.connection.last_error.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(error, HasSubstr("proxy connect: proxy 127.0.0.1:"));
  EXPECT_THAT(error,
              HasSubstr("answered 401 Unauthorized (check the user:password in --proxy-server)"));
  EXPECT_FALSE(cp_->WaitForEvent(OfKind(EventKind::kConnected), absl::ZeroDuration()));
  ASSERT_TRUE(logs.WaitForLines("cannot connect to control plane", 1, kWait));
  // The header value, should it leak whole.
  const std::string basic = absl::Base64Escape(absl::StrCat(kUser, ":", kPassword));
  for (const std::string& line : logs.Lines()) {
    for (const std::string& secret :
         {std::string("s3cr3t"), std::string(kEncodedPassword), basic}) {
      EXPECT_THAT(line, Not(HasSubstr(secret)));
    }
  }
  EXPECT_THAT(error, Not(HasSubstr("s3cr3t")));
}

// Without credentials for a proxy that wants them, the error says the URL has none.
TEST_F(CpProxyTest, MissingCredentialsAreReportedAs407) {
  StartCp();
  testing::TinyProxy::Options o = ToCp();
  o.user = kUser;
  o.password = kPassword;
  StartProxy(o);
  if (!proxy_) return;
  StartApp(ProxyFlags(absl::StrCat("http://127.0.0.1:", proxy_->port())));
  EXPECT_THAT(std::string(AwaitError().connection.last_error.message()),
              HasSubstr("407 Proxy Authentication Required (--proxy-server has no "
                        "user:password)"));
}

// A proxy that does not allow tunnels to the CP's port answers 403.
TEST_F(CpProxyTest, ForbiddenTunnelIsReportedAs403) {
  StartCp();
  testing::TinyProxy::Options o;
  o.connect_ports = {443};
  StartProxy(o);
  if (!proxy_) return;
  StartApp(ProxyFlags(absl::StrCat("http://127.0.0.1:", proxy_->port())));
  const status::StatusView view = AwaitError();
  EXPECT_EQ(view.connection.last_error.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(view.connection.last_error.message()),
              HasSubstr(absl::StrCat("403 Forbidden (the proxy does not allow a tunnel to ",
                                     CpTarget(), ")")));
}

// A proxy that cannot reach the CP answers with a server error, reported as unavailable.
TEST_F(CpProxyTest, ProxyThatCannotReachTheCpIsReported) {
  testing::RefusingPort no_cp;
  testing::TinyProxy::Options o;
  o.connect_ports = {no_cp.port()};
  StartProxy(o);
  if (!proxy_) return;
  StartAppAt(no_cp.port(), ProxyFlags(absl::StrCat("http://127.0.0.1:", proxy_->port())));
  const status::StatusView view = AwaitError();
  EXPECT_EQ(view.connection.last_error.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(view.connection.last_error.message()),
              HasSubstr("proxy connect: proxy 127.0.0.1:"));
  EXPECT_THAT(std::string(view.connection.last_error.message()), HasSubstr(" answered 5"));
}

// A proxy that is down is a refused connection to the proxy.
TEST_F(CpProxyTest, ProxyDownIsReportedAsRefused) {
  StartCp();
  testing::RefusingPort down;
  StartApp(ProxyFlags(absl::StrCat("http://u:", kEncodedPassword, "@127.0.0.1:", down.port())));
  const std::string error(AwaitError().connection.last_error.message());
  EXPECT_EQ(error, "connect: Connection refused");
  EXPECT_FALSE(cp_->WaitForEvent(OfKind(EventKind::kConnected), absl::ZeroDuration()));
}

// A proxy that accepts the connection but never answers CONNECT is bounded by the connect
// deadline.
TEST_F(CpProxyTest, SilentProxyTimesOut) {
  StartCp();
  testing::SilentListener silent;
  StartApp({"--cluster-use-proxy", absl::StrCat("--proxy-server=http://127.0.0.1:", silent.port()),
            "--connect-timeout=300ms"});
  const status::StatusView view = AwaitError();
  EXPECT_EQ(view.connection.last_error.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(view.connection.last_error.message()),
              HasSubstr("proxy connect: timed out after 300ms"));
}

// An https proxy: TLS to the proxy, CONNECT inside it, and the CP's TLS inside the tunnel. The
// proxy's self-signed certificate is accepted only because verification is off.
TEST_F(CpProxyTest, ConnectsThroughHttpsProxy) {
  StartCp();
  auto hash =
      cp_->SetConfig(testing::ReadFile(testing::SourceFile("deploy/examples/kong-config.json")));
  ASSERT_TRUE(hash.ok()) << hash.status();
  StartProxy(ToCp());
  if (!proxy_) return;
  testing::TempDir certs;
  testing::CertOptions cert_options;
  cert_options.common_name = "127.0.0.1";
  testing::TlsFront https(proxy_->port(),
                          testing::MakeSelfSignedCert(certs.path(), "proxy", cert_options));
  StartApp({"--cluster-use-proxy", absl::StrCat("--proxy-server=https://127.0.0.1:", https.port()),
            "--proxy-server-ssl-verify=false"});
  AwaitAppliedHash(*hash);
  EXPECT_TRUE(proxy_->WaitForLog(absl::StrCat("CONNECT ", CpTarget(), " HTTP/1.1"), kWait));
  EXPECT_GE(https.handshakes(), 1);
}

// By default an https proxy's certificate is verified: a self-signed one is refused.
TEST_F(CpProxyTest, HttpsProxyCertificateIsVerified) {
  StartCp();
  StartProxy(ToCp());
  if (!proxy_) return;
  testing::TempDir certs;
  testing::TlsFront https(proxy_->port(), testing::MakeSelfSignedCert(certs.path(), "proxy"));
  StartApp(ProxyFlags(absl::StrCat("https://127.0.0.1:", https.port())));
  const status::StatusView view = AwaitError();
  EXPECT_THAT(std::string(view.connection.last_error.message()),
              HasSubstr("proxy tls handshake: certificate verify failed"));
  EXPECT_EQ(https.handshakes(), 0);
}

}  // namespace
}  // namespace tether

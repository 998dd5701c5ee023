// Who may connect to api::Server: mutual TLS on TCP (plaintext, no client certificate and a
// certificate from another CA refused; the right one works for Watch and GetStatus; a rotated
// server certificate reaches new connections) and the unix socket's peer check (a client running
// under another uid, refused or admitted by --grpc-allowed-uids/gids). Real sockets, real gRPC
// clients: the client library in-process, tetherctl in a child that drops to another uid.
#include <grp.h>
#include <grpcpp/grpcpp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "client/lib/channel.h"
#include "client/lib/client.h"
#include "gtest/gtest.h"
#include "sidecar/api/server.h"
#include "tests/testing/certs.h"
#include "tests/testing/testing.h"
#include "tests/unit/sidecar/api/snapshots.h"
#include "tether/v1/config.grpc.pb.h"
#include "tether/v1/status.grpc.pb.h"

namespace tether::api {
namespace {

constexpr absl::Duration kWait = absl::Seconds(60);
constexpr char kServerName[] = "tether.test";

// The serial number of a PEM certificate, in decimal.
std::string SerialOf(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), pem.size()), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (cert == nullptr) return "";
  return absl::StrCat(ASN1_INTEGER_get(X509_get0_serialNumber(cert.get())));
}

class ServerAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = tether::testing::MakeSelfSignedCert(dir_.path(), "ca", {.common_name = "tether test ca"});
    server_cert_ =
        tether::testing::MakeIssuedCert(dir_.path(), "server", ca_, {.common_name = kServerName});
    client_cert_ =
        tether::testing::MakeIssuedCert(dir_.path(), "client", ca_, {.common_name = "proxy"});
    other_ca_ =
        tether::testing::MakeSelfSignedCert(dir_.path(), "other_ca", {.common_name = "other ca"});
    other_client_ = tether::testing::MakeIssuedCert(dir_.path(), "other_client", other_ca_,
                                                    {.common_name = "proxy"});
    store_.Publish(
        testing::Decode(absl::StrCat(R"({"services":[)", testing::Row("s1", "svc"), "]}")));
  }
  void TearDown() override {
    if (server_) server_->Shutdown(kWait);
  }

  void StartTls() {
    ServerOptions options;
    options.listen.push_back({ListenAddress::Kind::kTcp, "", "127.0.0.1", 0});
    options.tls =
        TlsFiles{server_cert_.cert_path, server_cert_.key_path, ca_.cert_path, absl::Seconds(1)};
    Start(std::move(options));
  }
  void StartUnix(AllowedPeers peers) {
    // The child running as another uid must reach the socket through the temp dir.
    ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
    ServerOptions options;
    options.listen.push_back({ListenAddress::Kind::kUnix, dir_.path() + "/t.sock", "", 0});
    options.unix_peers = std::move(peers);
    Start(std::move(options));
  }
  void Start(ServerOptions options) {
    auto server = Server::Create(std::move(options), store_, board_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    target_ = server_->addresses()[0];
  }

  client::TlsOptions ClientTls(const tether::testing::CertFiles& cert) const {
    return {cert.cert_path, cert.key_path, ca_.cert_path, kServerName};
  }

  // GetStatus on a fresh connection; its status, and the server certificate's serial if it
  // succeeded.
  grpc::Status GetStatus(const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                         std::string* served_serial = nullptr) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // its own connection
    args.SetSslTargetNameOverride(kServerName);
    auto stub = v1::StatusService::NewStub(grpc::CreateCustomChannel(target_, credentials, args));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::GetStatusRequest request;
    v1::Status response;
    grpc::Status status = stub->GetStatus(&context, request, &response);
    if (status.ok() && served_serial != nullptr) {
      auto pem = context.auth_context()->FindPropertyValues("x509_pem_cert");
      *served_serial = pem.empty() ? "" : SerialOf(std::string(pem[0].data(), pem[0].size()));
    }
    return status;
  }
  std::shared_ptr<grpc::ChannelCredentials> SslCredentials(const tether::testing::CertFiles* cert) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = tether::testing::ReadFile(ca_.cert_path);
    if (cert != nullptr) {
      o.pem_cert_chain = tether::testing::ReadFile(cert->cert_path);
      o.pem_private_key = tether::testing::ReadFile(cert->key_path);
    }
    return grpc::SslCredentials(o);
  }

  // tetherctl status against the unix socket, run as uid/gid; its exit status.
  int TetherctlStatusAs(uid_t uid, gid_t gid) {
    const std::string addr = target_;
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) _exit(99);
      ::execl(TETHERCTL_PATH, "tetherctl", "--addr", addr.c_str(), "--timeout", "10s", "status",
              static_cast<char*>(nullptr));
      _exit(98);
    }
    int wstatus = 0;
    EXPECT_EQ(::waitpid(pid, &wstatus, 0), pid);
    return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  }
  uint64_t Refused(status::PeerRefusal why) const {
    return board_.Get().totals.grpc_peers_refused[static_cast<size_t>(why)];
  }

  tether::testing::TempDir dir_;
  tether::testing::CertFiles ca_, server_cert_, client_cert_, other_ca_, other_client_;
  config::SnapshotStore store_;
  status::StatusBoard board_;
  std::unique_ptr<Server> server_;
  std::string target_;
};

TEST_F(ServerAccessTest, TlsRefusesPlaintextMissingAndForeignClientCertificates) {
  StartTls();
  EXPECT_EQ(GetStatus(grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GetStatus(SslCredentials(nullptr)).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GetStatus(SslCredentials(&other_client_)).error_code(), grpc::StatusCode::UNAVAILABLE);
  // The control: the same client with the right certificate gets through.
  EXPECT_TRUE(GetStatus(SslCredentials(&client_cert_)).ok());
}

TEST_F(ServerAccessTest, TlsClientLibraryWatchesAndGetsStatus) {
  StartTls();
  auto tether = client::Client::Create(target_, ClientTls(client_cert_));
  ASSERT_TRUE(tether.ok()) << tether.status();
  EXPECT_TRUE((*tether)->GetStatus(kWait).ok());

  auto channel = client::MakeChannel(target_, ClientTls(client_cert_), absl::Milliseconds(100),
                                     absl::Seconds(1));
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = v1::ConfigService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  auto stream = stub->Watch(&context);
  v1::WatchRequest subscribe;
  subscribe.mutable_subscribe()->set_client_id("tls-proxy");
  ASSERT_TRUE(stream->Write(subscribe));
  v1::WatchResponse first;
  ASSERT_TRUE(stream->Read(&first));
  EXPECT_EQ(first.upserts_size(), 1);
  context.TryCancel();

  // And the library refuses a client certificate another CA issued, as tether does.
  auto foreign = client::Client::Create(target_, ClientTls(other_client_));
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ((*foreign)->GetStatus(absl::Seconds(10)).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(ServerAccessTest, RotatedServerCertificateReachesNewConnections) {
  StartTls();
  std::string serial;
  ASSERT_TRUE(GetStatus(SslCredentials(&client_cert_), &serial).ok());
  EXPECT_EQ(serial, SerialOf(tether::testing::ReadFile(server_cert_.cert_path)));

  const tether::testing::CertFiles rotated =
      tether::testing::MakeIssuedCert(dir_.path(), "rotated", ca_, {.common_name = kServerName});
  const std::string rotated_serial = SerialOf(tether::testing::ReadFile(rotated.cert_path));
  ASSERT_NE(rotated_serial, serial);
  // Key first: a watcher reading between the two sees the old pair or a mismatch it skips.
  std::filesystem::copy_file(rotated.key_path, server_cert_.key_path,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(rotated.cert_path, server_cert_.cert_path,
                             std::filesystem::copy_options::overwrite_existing);
  // Nothing signals the provider's reload: new connections are asked until one shows it.
  EXPECT_TRUE(tether::testing::AwaitUntil(
      [&] {
        GetStatus(SslCredentials(&client_cert_), &serial);
        return serial == rotated_serial;
      },
      kWait));
  EXPECT_EQ(serial, rotated_serial);
}

TEST_F(ServerAccessTest, UnixSocketIsBornGroupOnly) {
  StartUnix({});
  struct stat st {};
  ASSERT_EQ(::stat((dir_.path() + "/t.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
}

// uid 65534 (nobody) with gid 0 passes the socket's 0660 root:root mode through its group, so
// only the peer check stands between it and the config.
constexpr uid_t kOtherUid = 65534;

TEST_F(ServerAccessTest, UnixPeerWithAnotherUidAndGidIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client under another uid";
  StartUnix({.uids = {}, .gids = {12345}});
  EXPECT_NE(TetherctlStatusAs(kOtherUid, 0), 0);
  EXPECT_GE(Refused(status::PeerRefusal::kNotAllowed), 1u);
  // Root is always allowed.
  EXPECT_EQ(TetherctlStatusAs(0, 0), 0);
}

TEST_F(ServerAccessTest, UnixPeerAllowedByUidOrByDefaultGid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client under another uid";
  {
    StartUnix({.uids = {kOtherUid}, .gids = {12345}});
    EXPECT_EQ(TetherctlStatusAs(kOtherUid, 0), 0);
    server_->Shutdown(kWait);
  }
  // Default: tether's own uid and primary gid (0 here), which the child shares.
  StartUnix({});
  EXPECT_EQ(TetherctlStatusAs(kOtherUid, 0), 0);
  EXPECT_EQ(Refused(status::PeerRefusal::kNotAllowed), 0u);
}

}  // namespace
}  // namespace tether::api

// Which cipher suites tether's CP client context agrees to: in TLS 1.2 only ECDHE key exchange
// (forward secrecy) with an AEAD cipher, whatever a CP offers; TLS 1.3 as OpenSSL has it. Each
// case is a real handshake against an OpenSSL server presenting an RSA cluster certificate, over
// an in-memory BIO pair so no port is needed.
#include "sidecar/cp/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/testing.h"

namespace tether::cp {
namespace {

using SslCtxPtr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;
using SslPtr = std::unique_ptr<SSL, decltype(&SSL_free)>;

struct Outcome {
  bool ok = false;
  std::string cipher;
  int version = 0;
};

// A handshake between tether's client context and a server limited to `max_version` and, for
// TLS 1.2, to `server_ciphers`.
Outcome Handshake(const std::string& server_ciphers, int max_version = TLS1_2_VERSION) {
  TlsCredentials client;
  client.cert_pem = testing::ReadFile(testing::Fixture("certs/kong_clustering.crt"));
  client.key_pem = testing::ReadFile(testing::Fixture("certs/kong_clustering.key"));
  client.trust_pem = testing::ReadFile(testing::Fixture("certs/kong_clustering_rsa.crt"));
  absl::StatusOr<ssl::context> client_ctx = MakeTlsContext(client);
  EXPECT_TRUE(client_ctx.ok()) << client_ctx.status();
  if (!client_ctx.ok()) return {};

  SslCtxPtr server_ctx(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  SSL_CTX* s = server_ctx.get();
  EXPECT_EQ(SSL_CTX_set_max_proto_version(s, max_version), 1);
  EXPECT_EQ(SSL_CTX_set_cipher_list(s, server_ciphers.c_str()), 1) << server_ciphers;
  SSL_CTX_set_dh_auto(s, 1);
  EXPECT_EQ(SSL_CTX_use_certificate_chain_file(
                s, testing::Fixture("certs/kong_clustering_rsa.crt").c_str()),
            1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey_file(
                s, testing::Fixture("certs/kong_clustering_rsa.key").c_str(), SSL_FILETYPE_PEM),
            1);

  SslPtr c(SSL_new(client_ctx->native_handle()), &SSL_free);
  SslPtr srv(SSL_new(s), &SSL_free);
  EXPECT_TRUE(ConfigureServerIdentity(c.get(), "kong_clustering").ok());
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  EXPECT_EQ(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0), 1);
  SSL_set_bio(c.get(), client_bio, client_bio);
  SSL_set_bio(srv.get(), server_bio, server_bio);
  SSL_set_connect_state(c.get());
  SSL_set_accept_state(srv.get());

  const auto progressing = [](SSL* ssl, int rc) {
    if (rc == 1) return true;
    const int err = SSL_get_error(ssl, rc);
    return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
  };
  Outcome out;
  for (int round = 0; round < 20; ++round) {
    const int rc_c = SSL_do_handshake(c.get());
    const int rc_s = SSL_do_handshake(srv.get());
    if (rc_c == 1 && rc_s == 1) {
      out.ok = true;
      out.cipher = SSL_get_cipher_name(c.get());
      out.version = SSL_version(c.get());
      break;
    }
    if (!progressing(c.get(), rc_c) || !progressing(srv.get(), rc_s)) break;
  }
  ERR_clear_error();
  return out;
}

TEST(TlsContextTest, Tls12WithoutForwardSecrecyOrAeadIsRefused) {
  for (const char* cipher :
       {"AES128-SHA", "AES128-GCM-SHA256", "AES256-SHA256", "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384"}) {
    const Outcome out = Handshake(cipher);
    EXPECT_FALSE(out.ok) << cipher << " was negotiated";
  }
}

TEST(TlsContextTest, Tls12EcdheWithAeadIsAccepted) {
  for (const char* cipher : {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                             "ECDHE-RSA-CHACHA20-POLY1305"}) {
    const Outcome out = Handshake(cipher);
    EXPECT_TRUE(out.ok) << cipher;
    EXPECT_EQ(out.cipher, cipher);
    EXPECT_EQ(out.version, TLS1_2_VERSION);
  }
  // A CP offering both kinds gets the forward-secret one.
  EXPECT_EQ(Handshake("AES128-SHA:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256").cipher,
            "ECDHE-RSA-AES128-GCM-SHA256");
}

TEST(TlsContextTest, Tls13IsUnrestricted) {
  const Outcome out = Handshake("AES128-SHA", TLS1_3_VERSION);
  EXPECT_TRUE(out.ok);
  EXPECT_EQ(out.version, TLS1_3_VERSION);
}

// A key file its group or others can read is loaded, and flagged for the session to warn about.
TEST(TlsContextTest, KeyReadableByOthersIsFlagged) {
  testing::TempDir dir;
  TlsOptions options;
  options.cert_path = testing::Fixture("certs/kong_clustering.crt");
  options.key_path = dir.path() + "/tls.key";
  std::filesystem::copy_file(testing::Fixture("certs/kong_clustering.key"), options.key_path);
  for (const auto& [mode, exposed] : std::vector<std::pair<mode_t, bool>>{
           {0600, false}, {0400, false}, {0640, true}, {0604, true}, {0440, true}}) {
    ASSERT_EQ(::chmod(options.key_path.c_str(), mode), 0);
    absl::StatusOr<TlsCredentials> loaded = LoadTlsCredentials(options);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->key_readable_by_others, exposed) << std::oct << mode;
  }
}

}  // namespace
}  // namespace tether::cp

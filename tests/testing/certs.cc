#include "tests/testing/certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tether::testing {

namespace {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

template <typename T>
T ReadPem(const std::string& path, T (*read)(FILE*, T*, pem_password_cb*, void*)) {
  FILE* in = fopen(path.c_str(), "r");
  EXPECT_NE(in, nullptr) << path;
  if (in == nullptr) return nullptr;
  T value = read(in, nullptr, nullptr, nullptr);
  fclose(in);
  return value;
}

// Signs a new P-256 certificate for `options`: self-signed when `issuer` is null.
CertFiles MakeCert(const std::string& dir, const std::string& name, const CertOptions& options,
                   const CertFiles* issuer) {
  KeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  EXPECT_NE(key, nullptr);
  CertPtr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  // Distinct serials, so two leaves of one CA are told apart.
  static std::atomic<int> serial{1};
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), absl::ToInt64Seconds(options.not_before));
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), absl::ToInt64Seconds(options.not_after));
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(options.common_name.c_str()),
                             -1, -1, 0);
  CertPtr issuer_cert(nullptr, X509_free);
  KeyPtr issuer_key(nullptr, EVP_PKEY_free);
  if (issuer != nullptr) {
    issuer_cert.reset(ReadPem<X509*>(issuer->cert_path, PEM_read_X509));
    issuer_key.reset(ReadPem<EVP_PKEY*>(issuer->key_path, PEM_read_PrivateKey));
    EXPECT_NE(issuer_cert, nullptr);
    EXPECT_NE(issuer_key, nullptr);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert.get()));
  } else {
    X509_set_issuer_name(cert.get(), subject);
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer_cert.get() : cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* ca = X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints,
                                           issuer ? "critical,CA:FALSE" : "critical,CA:TRUE");
  X509_add_ext(cert.get(), ca, -1);
  X509_EXTENSION_free(ca);
  EXPECT_GT(X509_sign(cert.get(), issuer ? issuer_key.get() : key.get(), EVP_sha256()), 0);

  CertFiles files{absl::StrCat(dir, "/", name, ".crt"), absl::StrCat(dir, "/", name, ".key")};
  FILE* out = fopen(files.cert_path.c_str(), "w");
  PEM_write_X509(out, cert.get());
  fclose(out);
  out = fopen(files.key_path.c_str(), "w");
  PEM_write_PrivateKey(out, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  fclose(out);
  return files;
}

}  // namespace

CertFiles MakeSelfSignedCert(const std::string& dir, const std::string& name,
                             const CertOptions& options) {
  return MakeCert(dir, name, options, nullptr);
}

CertFiles MakeIssuedCert(const std::string& dir, const std::string& name, const CertFiles& issuer,
                         const CertOptions& options) {
  return MakeCert(dir, name, options, &issuer);
}

}  // namespace tether::testing

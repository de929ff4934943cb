#include "tls_test_certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "tls/openssl_ptr.h"

namespace kw::test {
namespace {

struct Issued {
  X509Ptr cert;
  EvpPkeyPtr key;
};

void require(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "test PKI: %s failed\n", what);
    abort();
  }
}

void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  require(ext != nullptr, "extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate valid from now + from_s to now + to_s; self-signed when issuer is null.
Issued issue(const char* cn, const Issued* issuer, bool ca, const char* san, long from_s,
             long to_s) {
  static long serial = 1;
  Issued out;
  out.key.reset(EVP_EC_gen("P-256"));
  out.cert.reset(X509_new());
  require(out.key && out.cert, "key");
  X509* x = out.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), from_s);
  X509_gmtime_adj(X509_getm_notAfter(x), to_s);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("keywarden tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  X509_set_pubkey(x, out.key.get());
  if (ca) {
    addExtension(x, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(x, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(x, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    addExtension(x, issuer_cert, NID_key_usage, "critical,digitalSignature");
    addExtension(x, issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  addExtension(x, issuer_cert, NID_subject_key_identifier, "hash");
  if (issuer != nullptr)
    addExtension(x, issuer_cert, NID_authority_key_identifier, "keyid:always");
  if (san != nullptr)
    addExtension(x, issuer_cert, NID_subject_alt_name, san);
  EVP_PKEY* signer = issuer != nullptr ? issuer->key.get() : out.key.get();
  require(X509_sign(x, signer, EVP_sha256()) > 0, "sign");
  return out;
}

std::string pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

constexpr const char* kServerSan = "DNS:localhost,IP:127.0.0.1";
constexpr const char* kClientSan = "DNS:auth-service.internal,email:auth@example.com,"
                                   "URI:spiffe://example.com/auth-service";

}  // namespace

TestPki::TestPki() {
  char tmpl[] = "/tmp/kw-tls-test-XXXXXX";
  require(mkdtemp(tmpl) != nullptr, "mkdtemp");
  dir_ = tmpl;
  const long day = kDay;
  const Issued ca = issue("keywarden test CA", nullptr, true, nullptr, -day, 30 * day);
  const Issued rogue = issue("rogue CA", nullptr, true, nullptr, -day, 30 * day);
  auto save = [this](const std::string& base, const Issued& i) {
    write(base + ".pem", pem(i.cert.get()));
    write(base + ".key", pem(i.key.get()));
  };
  write("ca.pem", pem(ca.cert.get()));
  write("rogue_ca.pem", pem(rogue.cert.get()));
  save("server", issue("localhost", &ca, false, kServerSan, -day, 30 * day));
  save("server2", issue("renewed", &ca, false, kServerSan, -day, 30 * day));
  save("client", issue("auth-service", &ca, false, kClientSan, -day, 30 * day));
  save("expired", issue("localhost", &ca, false, kServerSan, -10 * day, -day));
  save("expired_client", issue("auth-service", &ca, false, kClientSan, -10 * day, -day));
  save("future", issue("localhost", &ca, false, kServerSan, day, 30 * day));
  save("rogue_server", issue("localhost", &rogue, false, kServerSan, -day, 30 * day));
  save("rogue_client", issue("auth-service", &rogue, false, kClientSan, -day, 30 * day));
  const EvpPkeyPtr other(EVP_EC_gen("P-256"));
  write("other.key", pem(other.get()));
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), other.get(), EVP_aes_128_cbc(),
                           reinterpret_cast<const unsigned char*>("secret"), 6, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  write("encrypted.key", std::string(data, static_cast<size_t>(n)));
}

TestPki::~TestPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string TestPki::write(const std::string& name, const std::string& content) const {
  const std::string p = path(name);
  FILE* f = fopen(p.c_str(), "wb");
  require(f != nullptr, "write");
  fwrite(content.data(), 1, content.size(), f);
  fclose(f);
  return p;
}

}  // namespace kw::test

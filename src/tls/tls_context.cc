#include "tls/tls_context.h"

#include <openssl/err.h>

#include <ctime>
#include <vector>

#include "tls/tls_files.h"

namespace kw {
namespace {

struct FileKeys {
  const char* cert;
  const char* key;
  const char* ca;
};
constexpr FileKeys kServerKeys{"tls.cert_file", "tls.key_file", "tls.ca_file"};
constexpr FileKeys kUpstreamKeys{"upstream.tls_cert_file", "upstream.tls_key_file",
                                 "upstream.tls_ca_file"};

// Binds the sessions this server issues to keywarden: OpenSSL refuses to resume a verified
// client's session without one. Any constant will do.
constexpr unsigned char kSessionIdContext[] = "keywarden";

std::string opensslReason() {
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? reason : "unknown error";
}

int noPassword(char*, int, int, void*) {
  return 0;
}

SslCtxPtr newContext(const SSL_METHOD* method, int min_version, std::string* error) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(method));
  if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx.get(), min_version) != 1) {
    *error = "tls: cannot create a TLS context (" + opensslReason() + ")";
    return nullptr;
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Idle connections hold no record buffers (34 KiB each otherwise).
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_default_passwd_cb(ctx.get(), noPassword);
  return ctx;
}

bool useCertificate(SSL_CTX* ctx, const FileKeys& keys, const std::string& cert_path,
                    const std::string& key_path, time_t now, std::string* error) {
  const TlsFile cert_file{keys.cert, cert_path}, key_file{keys.key, key_path};
  std::vector<X509Ptr> certs;
  EvpPkeyPtr key;
  if (!loadCertificates(cert_file, &certs, error) || !loadPrivateKey(key_file, &key, error) ||
      !checkValidAt(cert_file, certs[0].get(), now, error) ||
      !checkKeyMatches(cert_file, certs[0].get(), key_file, key.get(), error))
    return false;
  ERR_clear_error();
  if (SSL_CTX_use_certificate(ctx, certs[0].get()) != 1) {
    *error = std::string(keys.cert) + ": the certificate in \"" + cert_path +
             "\" cannot be used (" + opensslReason() + ")";
    return false;
  }
  for (size_t i = 1; i < certs.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, certs[i].get()) != 1) {
      *error = std::string(keys.cert) + ": certificate " + std::to_string(i + 1) + " of \"" +
               cert_path + "\" cannot be used in the chain (" + opensslReason() + ")";
      return false;
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    *error = std::string(keys.key) + ": the key in \"" + key_path + "\" cannot be used (" +
             opensslReason() + ")";
    return false;
  }
  return true;
}

// The CAs a peer's certificate must chain to; on the server side also the list of names sent in
// the certificate request, so a client knows which of its certificates to present.
bool useTrust(SSL_CTX* ctx, const char* key, const std::string& path, bool send_names,
              std::string* error) {
  std::vector<X509Ptr> certs;
  if (!loadCertificates({key, path}, &certs, error))
    return false;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_NAME)* names = send_names ? sk_X509_NAME_new_null() : nullptr;
  ERR_clear_error();
  for (const X509Ptr& cert : certs) {
    if (X509_STORE_add_cert(store, cert.get()) != 1) {
      sk_X509_NAME_pop_free(names, X509_NAME_free);
      *error = std::string(key) + ": \"" + path + "\" cannot be used (" + opensslReason() + ")";
      return false;
    }
    if (names != nullptr)
      sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(cert.get())));
  }
  if (names != nullptr)
    SSL_CTX_set_client_CA_list(ctx, names);  // takes it
  return true;
}

}  // namespace

TlsContext::TlsContext(Side side, SslCtxPtr ctx, bool verify_peer)
    : side_(side), ctx_(std::move(ctx)), verify_peer_(verify_peer) {
  if (side_ == Side::kClient) {
    sessions_ = std::make_unique<TlsSessionCache>();
    TlsSessionCache::attach(ctx_.get(), sessions_.get());
  }
}

std::shared_ptr<const TlsContext> TlsContext::forServer(const TlsServerConfig& config,
                                                        std::string* error, time_t now) {
  const int min_version =
      config.min_version == TlsMinVersion::k13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  SslCtxPtr ctx = newContext(TLS_server_method(), min_version, error);
  if (ctx == nullptr ||
      !useCertificate(ctx.get(), kServerKeys, config.cert_file, config.key_file, now, error))
    return nullptr;
  if (!config.ca_file.empty() &&
      !useTrust(ctx.get(), kServerKeys.ca, config.ca_file, /*send_names=*/true, error))
    return nullptr;
  ERR_clear_error();
  if (!config.ciphers.empty() && SSL_CTX_set_cipher_list(ctx.get(), config.ciphers.c_str()) != 1) {
    *error =
        "tls.ciphers: no usable cipher in \"" + config.ciphers + "\" (" + opensslReason() + ")";
    return nullptr;
  }
  if (!config.ciphersuites.empty() &&
      SSL_CTX_set_ciphersuites(ctx.get(), config.ciphersuites.c_str()) != 1) {
    *error = "tls.ciphersuites: no usable TLS 1.3 suite in \"" + config.ciphersuites + "\" (" +
             opensslReason() + ")";
    return nullptr;
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_id_context(ctx.get(), kSessionIdContext, sizeof(kSessionIdContext) - 1);
  int mode = SSL_VERIFY_NONE;
  if (config.client_certs == ClientCerts::kOptional)
    mode = SSL_VERIFY_PEER;
  else if (config.client_certs == ClientCerts::kRequire)
    mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx.get(), mode, nullptr);
  const bool verify = config.client_certs != ClientCerts::kOff;
  return std::shared_ptr<const TlsContext>(new TlsContext(Side::kServer, std::move(ctx), verify));
}

std::shared_ptr<const TlsContext> TlsContext::forUpstream(const UpstreamTlsConfig& config,
                                                          std::string* error, std::string* warning,
                                                          time_t now) {
  warning->clear();
  SslCtxPtr ctx = newContext(TLS_client_method(), TLS1_2_VERSION, error);
  if (ctx == nullptr)
    return nullptr;
  if (!config.cert_file.empty() &&
      !useCertificate(ctx.get(), kUpstreamKeys, config.cert_file, config.key_file, now, error))
    return nullptr;
  if (!config.ca_file.empty()) {
    if (!useTrust(ctx.get(), kUpstreamKeys.ca, config.ca_file, /*send_names=*/false, error))
      return nullptr;
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    ERR_clear_error();  // no system store: verification will fail, and say so per connection
  }
  SSL_CTX_set_verify(ctx.get(), config.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!config.verify)
    *warning = "upstream.tls_verify = false: Redis's certificate is not checked, so anyone on the "
               "network path can pose as Redis and read every command";
  return std::shared_ptr<const TlsContext>(
      new TlsContext(Side::kClient, std::move(ctx), config.verify));
}

}  // namespace kw

// TLS sessions towards Redis, kept per peer so that a reconnect resumes instead of doing a full
// handshake (a reconnect storm after a Redis restart or a network blip stays cheap for both
// sides). OpenSSL's client cache only stores; a client must offer a session itself.
//
//   event                                         cache
//   a client channel starts for key K (the peer's offers the session stored for K, if still
//   address and the name it is verified for: a    resumable (OpenSSL falls back to a full
//   resumed session is not verified again)        handshake when the server declines)
//   the server issues a session (TLS 1.2: at the  stored for K, replacing the previous one (TLS
//   handshake; TLS 1.3: a ticket after it)        1.3 sends several: the last one wins)
//   more than kMaxPeers keys                      the whole cache is dropped (keys are upstream
//                                                 nodes: a handful, unless something is wrong)
//
// One cache per client context (per configuration snapshot), shared by every worker: a mutex,
// taken once per handshake.
#pragma once

#include <openssl/ssl.h>

#include <mutex>
#include <string>
#include <unordered_map>

#include "tls/openssl_ptr.h"

namespace kw {

class TlsSessionCache {
public:
  static constexpr size_t kMaxPeers = 1024;

  TlsSessionCache() = default;
  TlsSessionCache(const TlsSessionCache&) = delete;
  TlsSessionCache& operator=(const TlsSessionCache&) = delete;

  // Sets the context up to hand new sessions to this cache (the context's app data must point to
  // this cache).
  static void attach(SSL_CTX* ctx, TlsSessionCache* cache);
  // Before the handshake of `ssl`: remembers its key (which must outlive `ssl`) and offers the
  // stored session.
  void prepare(SSL* ssl, const std::string* key);

  size_t size() const;

private:
  static int onNewSession(SSL* ssl, SSL_SESSION* session);
  void store(const std::string& key, SSL_SESSION* session);

  mutable std::mutex mu_;
  std::unordered_map<std::string, SslSessionPtr> sessions_;
};

}  // namespace kw

// One SSL_CTX built from the TLS configuration: the server side ([tls], clients of keywarden)
// or the client side ([upstream] tls*, keywarden to Redis). Built at startup, by --check-config
// and on every reload (certificates are read again each time), on the main thread; shared
// read-only by every worker and every channel started from it (tls_channel.h), and freed when
// the last of them is gone.
//
//   setting                  server side                            client side
//   certificate + key        cert_file/key_file, required           tls_cert_file/tls_key_file,
//                                                                   when given
//   checks when built        readable PEM, key matches, valid now   the same, for what is given
//   peer verification        client_certs: require (no cert or a    tls_verify (default on):
//                            bad one fails), optional (none is      chain to tls_ca_file (or the
//                            fine, a bad one fails), off (none      system's store), and the
//                            asked for); chain to ca_file           server name (TlsChannel)
//   versions                 min_version (1.2 or 1.3)               1.2 and up
//   ciphers                  ciphers / ciphersuites                 OpenSSL's defaults
//   renegotiation            refused                                refused
//   sessions                 resumable (tickets, per context)       cached per peer for
//                                                                   resumption (TlsSessionCache)
//
// Errors are one line, naming the key and the file (tls_files.h). Nothing here throws.
#pragma once

#include <openssl/ssl.h>

#include <ctime>
#include <memory>
#include <string>

#include "tls/openssl_ptr.h"
#include "tls/tls_config.h"
#include "tls/tls_session_cache.h"

namespace kw {

class TlsContext {
public:
  enum class Side : uint8_t { kServer, kClient };

  // nullptr and *error when a file or a setting is wrong. `now` is when the certificate must be
  // valid (tests inject it).
  static std::shared_ptr<const TlsContext>
  forServer(const TlsServerConfig& config, std::string* error, time_t now = time(nullptr));
  // *warning (empty when none) is the line to log at every start: tls_verify = false.
  static std::shared_ptr<const TlsContext> forUpstream(const UpstreamTlsConfig& config,
                                                       std::string* error, std::string* warning,
                                                       time_t now = time(nullptr));

  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  Side side() const { return side_; }
  // Whether the peer's certificate is checked (client side; the server side asks per
  // client_certs).
  bool verifiesPeer() const { return verify_peer_; }
  // For SSL_new: OpenSSL locks what it changes in a context (its sessions, reference counts).
  SSL_CTX* native() const { return ctx_.get(); }
  // Client side: sessions by peer. Null on the server side.
  TlsSessionCache* sessions() const { return sessions_.get(); }

private:
  TlsContext(Side side, SslCtxPtr ctx, bool verify_peer);

  Side side_;
  SslCtxPtr ctx_;
  bool verify_peer_;
  std::unique_ptr<TlsSessionCache> sessions_;
};

}  // namespace kw

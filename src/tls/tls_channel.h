// One TLS connection, in memory: ciphertext in and out on the socket's side, plaintext in and out
// on the proxy's side. No socket, no loop, no blocking call, no exception: the owner (a session
// or an upstream connection) moves the bytes, in pieces of any size, one byte at a time included.
//
//   the owner                            calls
//   accepted a client (server side)      accept(context)
//   connects to Redis (client side)      connect(context, server name, session key), then writes
//                                        takeCiphertext() (the ClientHello) once connected
//   read bytes from the socket           feedCiphertext(bytes); readPlaintext(...) until it gives
//                                        0; then takeCiphertext() and write it: handshake
//                                        messages, alerts and key updates need their answers
//   has plaintext to send                writePlaintext(bytes) (before the handshake is done it
//                                        is queued, and encrypted as soon as it is); then
//                                        takeCiphertext() and write it
//   closes politely                      shutdown() (a close_notify), takeCiphertext(), write,
//                                        close
//
//   state            handshakeDone  failed  peerClosed  the owner
//   handshaking      no             no      no          keeps feeding
//   open             yes            no      no          reads and writes
//   peer closed      yes            no      yes         close_notify received: EOF
//   failed           either         yes     -           writes takeCiphertext() (the alert that
//                                                        tells the peer why), closes, counts
//                                                        failureKind() and logs failureReason()
//
//   failureKind      when                                           e.g.
//   kNotTls          a server side's first byte is no TLS record    RESP sent to the TLS port
//   kCertificate     a certificate was refused, by us or the peer   untrusted CA, expired, none
//                                                                   while required, wrong name
//   kProtocol        anything else                                  no common version or
//                                                                   cipher, a corrupt record
//
// Renegotiation is refused by the contexts (SSL_OP_NO_RENEGOTIATION): a peer's attempt is
// answered with a no_renegotiation alert. An OpenSSL peer then ends the connection with a fatal
// alert (kProtocol here); a peer that ignores the alert goes on in the session it had.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tls/cipher_buffers.h"
#include "tls/openssl_ptr.h"
#include "tls/tls_context.h"

namespace kw {

class TlsChannel {
public:
  enum class Failure : uint8_t { kNone, kNotTls, kCertificate, kProtocol };

  // The server side of a client connection; `context` is a server context.
  static std::unique_ptr<TlsChannel> accept(std::shared_ptr<const TlsContext> context);
  // The client side towards Redis; `context` is a client context. `server_name` (tls_server_name,
  // or the host of the address) is sent as SNI unless it is an IP address, and the certificate
  // must carry it when the context verifies. `session_key` ("host:port") and the server name
  // pick the session offered for resumption (a resumed session is not verified again).
  static std::unique_ptr<TlsChannel> connect(std::shared_ptr<const TlsContext> context,
                                             std::string_view server_name, std::string session_key);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  // Bytes read from the socket. Ignored once failed.
  void feedCiphertext(std::string_view bytes);
  // Decrypted bytes, up to `capacity`; 0 when there are none for now (or after EOF or failure).
  size_t readPlaintext(char* out, size_t capacity);
  // Appends everything decrypted so far; returns how much.
  size_t readPlaintext(std::string* out);
  // Bytes to send: how many were taken (all of them, or 0 once failed or shut down).
  size_t writePlaintext(std::string_view bytes);
  // What must be written to the socket, appended to *out (moved without a copy when *out is
  // empty).
  void takeCiphertext(std::string* out) { cipher_out_.take(out); }
  bool hasCiphertext() const { return !cipher_out_.empty(); }
  size_t ciphertextSize() const { return cipher_out_.size(); }
  // Queues a close_notify; writePlaintext takes nothing after it.
  void shutdown();

  bool handshakeDone() const { return handshake_done_; }
  bool failed() const { return failure_ != Failure::kNone; }
  Failure failureKind() const { return failure_; }
  const std::string& failureReason() const { return failure_reason_; }
  bool peerClosed() const { return peer_closed_; }

  // The peer presented a certificate and it was verified (a client under client_certs =
  // require/optional; Redis under tls_verify).
  bool peerVerified() const;
  // The verified peer certificate's subject CN, then its subjectAltName DNS, email and URI
  // entries, in certificate order; empty unless peerVerified(). For [[users]] mapped to a
  // certificate.
  std::vector<std::string> peerSubjectNames() const;
  // For INFO and CLIENT LIST: "TLSv1.3", "TLS_AES_256_GCM_SHA384"; "" before the handshake.
  std::string_view version() const;
  std::string_view cipher() const;
  // This connection resumed an earlier session (no full handshake).
  bool resumed() const;

  // Memory held by the ciphertext buffers (OpenSSL's own not counted), for CLIENT LIST.
  size_t bufferCapacity() const { return cipher_in_.capacity() + cipher_out_.capacity(); }

  // For tests and diagnostics only.
  SSL* native() const { return ssl_.get(); }

private:
  explicit TlsChannel(std::shared_ptr<const TlsContext> context);
  bool setUp(bool server);
  void advanceHandshake();
  void flushPending();
  void fail(Failure kind, std::string reason);
  // After an SSL call returned `ret`: false when the channel failed.
  bool handleResult(int ret);

  std::shared_ptr<const TlsContext> context_;  // keeps the SSL_CTX and the session cache alive
  // Declared before ssl_: its BIOs point into them until SSL_free.
  CipherInput cipher_in_;
  CipherOutput cipher_out_;
  SslPtr ssl_;
  std::string pending_;  // plaintext written before the handshake was done
  std::string session_key_;
  std::string failure_reason_;
  Failure failure_ = Failure::kNone;
  bool server_ = false;
  bool seen_input_ = false;
  bool handshake_done_ = false;
  bool peer_closed_ = false;
  bool shut_down_ = false;
};

}  // namespace kw

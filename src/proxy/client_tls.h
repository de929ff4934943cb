// The TLS transport of one connection: its TlsChannel (src/tls/) and the ciphertext on its way to
// the socket. A session accepted on the TLS listener owns one (Session::tls_, the only thing a
// plaintext session pays for TLS: a null pointer); session_tls.cc drives it. An upstream
// connection with upstream.tls owns one too (UpstreamConn::tls_, the client side: its channel
// made by TlsChannel::connect), driven the same way by upstream_conn.cc:
//
//   event                          the session calls          and then
//   bytes read from the socket     feed(ciphertext)           read(): the plaintext goes into its
//                                                             input as a plaintext read's would
//   the handshake completes        (feed says kEstablished,   maps the client certificate to a
//                                  once)                      user ([[users]] cert_subject)
//   the handshake fails            (feed says kFailed)        writeFinal() (the alert), counts the
//                                                             kind, logs, closes
//   its loop-turn flush            flush(writer)              -
//   close                          closeNotify()              -
//
// Writes: replies are queued as plaintext in the session's StreamWriter as for any client; at
// each flush the ciphertext still pending is written first, and only once the socket has taken
// all of it is more plaintext (at most kEncryptBatch) taken from the writer and encrypted. So the
// writer's backlog, which the reply buffer cap and the slow-reader rules count, is what the
// client has not taken yet, give or take one batch, and ciphertext never piles up here. A
// multi-MiB reply is encrypted batch by batch as the socket drains, never whole.
//
// Ciphertext leaves by uv_try_write, and what the kernel does not take by one uv_write of the
// rest; the channel's output buffer is handed over without a copy (TlsChannel::takeCiphertext).
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/stream_writer.h"
#include "tls/tls_channel.h"

namespace kw {

class ClientTls {
public:
  // Called when an asynchronous write finished (status < 0: a write error), as StreamWriter's.
  using DoneFn = void (*)(void* owner, int status);
  static constexpr size_t kEncryptBatch = 128 * 1024;

  // The server side of a client accepted on the TLS listener.
  ClientTls(std::shared_ptr<const TlsContext> context, uv_stream_t* stream, void* owner,
            DoneFn done);
  // A channel made by the caller (the client side towards Redis: TlsChannel::connect).
  ClientTls(std::unique_ptr<TlsChannel> channel, uv_stream_t* stream, void* owner, DoneFn done);
  ~ClientTls();
  ClientTls(const ClientTls&) = delete;
  ClientTls& operator=(const ClientTls&) = delete;

  enum class Progress : uint8_t {
    kHandshaking,  // more bytes needed
    kEstablished,  // the handshake completed with these bytes (said once)
    kOpen,         // established earlier
    kFailed,       // the channel failed (failureKind(), failureReason())
  };
  Progress feed(std::string_view ciphertext);
  // Decrypted bytes, up to `capacity`; 0 when there are none for now.
  size_t read(char* out, size_t capacity) { return channel_->readPlaintext(out, capacity); }

  // Writes pending ciphertext, then encrypts from `plain` while the socket takes it (header).
  // Returns 0 or a libuv error (the channel failed: UV_EPROTO).
  int flush(StreamWriter* plain);
  // Nothing is waiting to be written or being written.
  bool idle() const { return !writing_ && pos_ == out_.size() && !channel_->hasCiphertext(); }
  // The connection is closing: its last words (a failed handshake's alert, a close_notify
  // queued by closeNotify) are written if the socket takes them at once, never waited for.
  void writeFinal();
  void closeNotify();

  bool established() const { return channel_->handshakeDone() && !channel_->failed(); }
  bool peerClosed() const { return channel_->peerClosed(); }
  const TlsChannel& channel() const { return *channel_; }

private:
  static void onWrite(uv_write_t* req, int status);
  // Takes up to kEncryptBatch plaintext bytes from `plain` into the channel; false when none.
  bool encrypt(StreamWriter* plain);

  std::unique_ptr<TlsChannel> channel_;
  uv_stream_t* stream_;
  void* owner_;
  DoneFn done_;
  std::string out_;            // ciphertext: out_[pos_, size) not yet written
  size_t pos_ = 0;             // written so far
  uv_write_t* req_ = nullptr;  // only while a write is in flight
  bool writing_ = false;
  bool said_established_ = false;
};

}  // namespace kw

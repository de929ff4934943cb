// A TLS client's session: where its transport (ClientTls, client_tls.h) meets the request path.
//
//   uv_read (ciphertext, in the worker's read buffer)
//     -> onTlsRead -> ClientTls::feed
//          handshaking   nothing for the session yet (the channel's answer is flushed)
//          established   onTlsEstablished: counted; a verified certificate that names a user
//                        logs the client in as that user
//          failed        failTls: the alert written, counted by kind, a line logged (at most one
//                        per client host per 10 s), closed
//     -> ClientTls::read: the plaintext, into the worker's read buffer or in place behind an
//        incomplete request kept in inbuf_ (room for a large argument made at once, as a
//        plaintext read does) -> onPlaintext -> processInput, as for any client
//   flush -> ClientTls::flush(writer_): ciphertext out as the socket takes it (client_tls.h)
//
// Back-pressure is the plaintext path's: when the session stops reading (its replies are over the
// cap, the upstream send queue is full, a barrier), what one read brought is decrypted into inbuf_
// and waits there, and no more is read.
#include <algorithm>

#include "common/log.h"
#include "policy/auth_throttle.h"
#include "policy/policy.h"
#include "proxy/client_tls.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/worker.h"

namespace kw {
namespace {

TlsFailure failureOf(TlsChannel::Failure kind) {
  switch (kind) {
  case TlsChannel::Failure::kNotTls:
    return TlsFailure::kNotTls;
  case TlsChannel::Failure::kCertificate:
    return TlsFailure::kCertificate;
  default:
    return TlsFailure::kProtocol;
  }
}

// A failed handshake, counted always and logged at most once per client host per interval.
void reportHandshakeFailure(Worker& worker, const std::string& addr, TlsFailure kind,
                            const std::string& reason) {
  ClientTlsRuntime& tls = worker.shared().tls;
  tls.countFailure(kind);
  uint64_t suppressed = 0;
  if (!tls.shouldLogFailure(hostOf(addr), worker.nowMs(), &suppressed))
    return;
  const std::string more =
      suppressed == 0 ? ""
                      : " (and " + std::to_string(suppressed) + " more from this host not logged)";
  KW_LOG_WARN("TLS handshake with client %s failed (%s): %s; connection closed%s", addr.c_str(),
              kTlsFailureNames[static_cast<size_t>(kind)], reason.c_str(), more.c_str());
}

}  // namespace

void Session::startTls(std::shared_ptr<const TlsContext> context) {
  tls_ = std::make_unique<ClientTls>(std::move(context), reinterpret_cast<uv_stream_t*>(&tcp_),
                                     this, &Session::onWriteDone);
  worker_->shared().tls.countAccepted();
  worker_->shared().tls.clientOpened();
}

void Session::onTlsRead(std::string_view ciphertext) {
  switch (tls_->feed(ciphertext)) {
  case ClientTls::Progress::kFailed:
    return failTls();
  case ClientTls::Progress::kHandshaking:
    if (!tls_->idle())
      markDirty();  // the channel's answer (ServerHello...) goes out at this turn's flush
    return;
  case ClientTls::Progress::kEstablished:
    onTlsEstablished();
    break;
  case ClientTls::Progress::kOpen:
    break;
  }
  // Everything the channel can decrypt now: OpenSSL keeps nothing back for later, so no input
  // waits inside the channel while the session is paused.
  while (!closed_) {
    const bool in_place = !inbuf_.empty();
    char* at = worker_->readBuffer();
    size_t room = Worker::kReadBufferSize;
    if (in_place) {
      const size_t have = inbuf_.size();
      const size_t need = input_need_ > have ? input_need_ - have : 0;
      at = inbuf_.reserve(std::max(need, Worker::kReadBufferSize), &room);
    }
    const size_t n = tls_->read(at, room);
    if (n == 0)
      break;
    if (in_place) {
      inbuf_.commit(n);
      onPlaintext({});
    } else {
      onPlaintext(std::string_view(at, n));
    }
  }
  if (closed_)
    return;
  if (tls_->channel().failed())
    return failTls();  // a corrupt record, an alert from the client
  if (tls_->peerClosed())
    return close(nullptr);  // close_notify: the client's EOF
  if (!tls_->idle())
    markDirty();  // session tickets, answers to key updates
}

void Session::onTlsEstablished() {
  worker_->shared().tls.countEstablished();
  if (applyCertificateUser())
    worker_->shared().tls.countCertificateLogin();
}

bool Session::applyCertificateUser() {
  if (!tls_ || !tls_->channel().peerVerified())
    return false;
  const std::vector<std::string> names = tls_->channel().peerSubjectNames();
  const CompiledUser* u = worker_->policy().userForCertificate(names);
  if (u == nullptr) {
    KW_LOG_DEBUG("client %s: its certificate (%s%s) names no enabled user's cert_subject",
                 addr_.c_str(), names.empty() ? "no names" : names[0].c_str(),
                 names.size() > 1 ? ", ..." : "");
    return false;
  }
  user_ = u;
  x().user_name = u->name;
  explicit_auth_ = true;
  return true;
}

void Session::failTls() {
  const TlsChannel& channel = tls_->channel();
  tls_->writeFinal();  // the alert that tells the client why
  if (channel.handshakeDone()) {
    KW_LOG_DEBUG("client %s id=%llu: TLS error: %s", addr_.c_str(),
                 static_cast<unsigned long long>(id_), channel.failureReason().c_str());
  } else {
    reportHandshakeFailure(*worker_, addr_, failureOf(channel.failureKind()),
                           channel.failureReason());
  }
  close("TLS failure");
}

bool Session::tlsHandshakeOverdue(uint64_t now_ms) const {
  return tls_ && !closed_ && !tls_->established() && now_ms - created_ms_ >= kTlsHandshakeTimeoutMs;
}

void Session::failTlsHandshakeTimeout() {
  reportHandshakeFailure(*worker_, addr_, TlsFailure::kTimeout,
                         "no complete handshake within " +
                             std::to_string(kTlsHandshakeTimeoutMs / 1000) + " s");
  close("TLS handshake timeout");
}

bool Session::outputIdle() const {
  return writer_.idle() && (!tls_ || tls_->idle());
}

}  // namespace kw

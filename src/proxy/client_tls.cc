#include "proxy/client_tls.h"

#include <algorithm>
#include <utility>

namespace kw {
namespace {

// A drained ciphertext buffer larger than this is released: an idle connection holds none.
constexpr size_t kKeepBytes = 16 * 1024;
constexpr size_t kPeekBufs = 16;

}  // namespace

ClientTls::ClientTls(std::shared_ptr<const TlsContext> context, uv_stream_t* stream, void* owner,
                     DoneFn done)
    : channel_(TlsChannel::accept(std::move(context))), stream_(stream), owner_(owner),
      done_(done) {}

ClientTls::ClientTls(std::unique_ptr<TlsChannel> channel, uv_stream_t* stream, void* owner,
                     DoneFn done)
    : channel_(std::move(channel)), stream_(stream), owner_(owner), done_(done) {}

ClientTls::~ClientTls() {
  // A write still in flight is cancelled by libuv when the handle closes, before the session (and
  // this) is freed; its callback has then run and released the request.
  delete req_;
}

ClientTls::Progress ClientTls::feed(std::string_view ciphertext) {
  channel_->feedCiphertext(ciphertext);
  if (channel_->failed())
    return Progress::kFailed;
  if (!channel_->handshakeDone())
    return Progress::kHandshaking;
  if (said_established_)
    return Progress::kOpen;
  said_established_ = true;
  return Progress::kEstablished;
}

bool ClientTls::encrypt(StreamWriter* plain) {
  if (!established() || plain->buffered() == 0)
    return false;
  uv_buf_t bufs[kPeekBufs];
  const size_t n = plain->peek(bufs, kPeekBufs);
  size_t taken = 0;
  for (size_t i = 0; i < n && taken < kEncryptBatch; ++i) {
    const size_t len = std::min(bufs[i].len, kEncryptBatch - taken);
    // A channel that failed takes nothing: flush() sees it fail.
    if (channel_->writePlaintext(std::string_view(bufs[i].base, len)) != len)
      break;
    taken += len;
  }
  plain->taken(taken);
  return taken > 0;
}

int ClientTls::flush(StreamWriter* plain) {
  for (;;) {
    if (writing_)
      return 0;  // its completion flushes again
    if (pos_ == out_.size()) {
      pos_ = 0;
      if (out_.capacity() > kKeepBytes)
        std::string().swap(out_);
      else
        out_.clear();
      if (!channel_->hasCiphertext() && !encrypt(plain))
        return channel_->failed() && channel_->handshakeDone() ? UV_EPROTO : 0;
      channel_->takeCiphertext(&out_);  // swapped in: out_ is empty
      if (out_.empty())
        return channel_->failed() ? UV_EPROTO : 0;
    }
    uv_buf_t buf = uv_buf_init(out_.data() + pos_, static_cast<unsigned>(out_.size() - pos_));
    int w = uv_try_write(stream_, &buf, 1);
    if (w == UV_EAGAIN)
      w = 0;
    if (w < 0)
      return w;
    pos_ += static_cast<size_t>(w);
    if (pos_ == out_.size())
      continue;
    // The kernel's buffer is full: the rest goes in one write, out_ untouched until it is done.
    buf = uv_buf_init(out_.data() + pos_, static_cast<unsigned>(out_.size() - pos_));
    if (!req_)
      req_ = new uv_write_t;
    req_->data = this;
    const int rc = uv_write(req_, stream_, &buf, 1, &ClientTls::onWrite);
    if (rc < 0)
      return rc;
    writing_ = true;
    return 0;
  }
}

void ClientTls::onWrite(uv_write_t* req, int status) {
  auto* self = static_cast<ClientTls*>(req->data);
  self->writing_ = false;
  if (status == 0)
    self->pos_ = self->out_.size();
  delete self->req_;
  self->req_ = nullptr;
  self->done_(self->owner_, status);
}

void ClientTls::writeFinal() {
  if (writing_)
    return;  // a write in flight comes first; the connection closes without waiting
  if (pos_ == out_.size()) {
    out_.clear();
    pos_ = 0;
  }
  channel_->takeCiphertext(&out_);
  if (pos_ == out_.size())
    return;
  uv_buf_t buf = uv_buf_init(out_.data() + pos_, static_cast<unsigned>(out_.size() - pos_));
  const int w = uv_try_write(stream_, &buf, 1);
  if (w > 0)
    pos_ += static_cast<size_t>(w);
}

void ClientTls::closeNotify() {
  if (!established())
    return;
  channel_->shutdown();
  writeFinal();
}

}  // namespace kw

// Outgoing bytes of one libuv stream. Callers append to buffer() during a loop turn; the worker
// calls flush() once per turn (its uv_check), so many replies or requests leave in one syscall.
// uv_try_write first; what the kernel does not take moves into a single uv_write in flight.
#pragma once

#include <uv.h>

#include <string>

namespace kw {

class StreamWriter {
public:
  // Called when an asynchronous write finished; status < 0 is a write error.
  using DoneFn = void (*)(void* owner, int status);

  void init(uv_stream_t* stream, void* owner, DoneFn done) {
    stream_ = stream;
    owner_ = owner;
    done_ = done;
    req_.data = this;
  }

  std::string& buffer() { return pending_; }
  bool writing() const { return writing_; }
  size_t buffered() const { return pending_.size() + inflight_.size(); }
  bool idle() const { return !writing_ && pending_.empty(); }

  // Returns 0 or a libuv error. Bytes still pending when a write is in flight go out when it
  // completes (the owner's DoneFn calls flush again).
  int flush() {
    if (writing_ || pending_.empty())
      return 0;
    uv_buf_t buf = uv_buf_init(pending_.data(), static_cast<unsigned>(pending_.size()));
    int n = uv_try_write(stream_, &buf, 1);
    if (n == UV_EAGAIN)
      n = 0;
    if (n < 0)
      return n;
    if (static_cast<size_t>(n) == pending_.size()) {
      written_ += n;
      shrinkIfHuge(&pending_);
      pending_.clear();
      return 0;
    }
    written_ += n;
    inflight_.assign(pending_, static_cast<size_t>(n), std::string::npos);
    pending_.clear();
    buf = uv_buf_init(inflight_.data(), static_cast<unsigned>(inflight_.size()));
    int rc = uv_write(&req_, stream_, &buf, 1, &StreamWriter::onWrite);
    if (rc < 0)
      return rc;
    writing_ = true;
    return 0;
  }

  uint64_t written() const { return written_; }

private:
  static void shrinkIfHuge(std::string* s) {
    if (s->capacity() > (1u << 20))
      std::string().swap(*s);
  }
  static void onWrite(uv_write_t* req, int status) {
    auto* self = static_cast<StreamWriter*>(req->data);
    self->writing_ = false;
    if (status == 0)
      self->written_ += self->inflight_.size();
    self->inflight_.clear();
    shrinkIfHuge(&self->inflight_);
    self->done_(self->owner_, status);
  }

  uv_stream_t* stream_ = nullptr;
  void* owner_ = nullptr;
  DoneFn done_ = nullptr;
  uv_write_t req_{};
  std::string pending_;
  std::string inflight_;
  uint64_t written_ = 0;
  bool writing_ = false;
};

}  // namespace kw

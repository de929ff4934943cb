// Outgoing bytes of one libuv stream. Callers append during a loop turn; the worker calls flush()
// once per turn (its uv_check), so many replies or requests leave in one syscall. The bytes wait
// in an OutQueue (chunks, never moved once queued) and leave by writev: uv_try_write first, and
// what the kernel does not take goes into one uv_write of iovecs pointing into the queue. Bytes
// appended while that write is in flight wait for its completion (the owner's DoneFn flushes
// again), so writes stay in order.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string_view>

#include "proxy/out_queue.h"

namespace kw {

class StreamWriter {
public:
  // Called when an asynchronous write finished; status < 0 is a write error.
  using DoneFn = void (*)(void* owner, int status);

  StreamWriter() = default;
  StreamWriter(const StreamWriter&) = delete;
  StreamWriter& operator=(const StreamWriter&) = delete;
  ~StreamWriter() { delete req_; }

  void init(uv_stream_t* stream, void* owner, DoneFn done, ChunkPool* pool) {
    stream_ = stream;
    owner_ = owner;
    done_ = done;
    queue_.setPool(pool);
  }

  void append(std::string_view bytes) { queue_.append(bytes); }
  void appendShared(SharedBlock* block, std::string_view bytes) {
    queue_.appendShared(block, bytes);
  }
  // In front of everything queued; only before anything was written (a handshake).
  void prepend(std::string_view bytes) { queue_.prepend(bytes); }
  bool writing() const { return writing_; }
  size_t buffered() const { return queue_.size(); }
  size_t memory() const { return queue_.capacity(); }
  bool idle() const { return !writing_ && queue_.empty(); }
  // Drops everything queued (the connection failed). A write in flight completes or is
  // cancelled by libuv when the handle closes; its bytes are no longer counted.
  void discard() {
    queue_.clear();
    inflight_ = 0;
  }

  // Returns 0 or a libuv error.
  int flush() {
    if (writing_ || queue_.empty())
      return 0;
    uv_buf_t bufs[kMaxBufs];
    for (;;) {
      const size_t n = queue_.gather(0, bufs, kTryBufs);
      size_t offered = 0;
      for (size_t i = 0; i < n; ++i)
        offered += bufs[i].len;
      int w = uv_try_write(stream_, bufs, static_cast<unsigned>(n));
      if (w == UV_EAGAIN)
        w = 0;
      if (w < 0)
        return w;
      queue_.consume(static_cast<size_t>(w));
      written_ += static_cast<uint64_t>(w);
      if (queue_.empty())
        return 0;
      if (static_cast<size_t>(w) < offered)
        break;  // the kernel's buffer is full
    }
    const size_t n = queue_.gather(0, bufs, kMaxBufs);
    inflight_ = 0;
    for (size_t i = 0; i < n; ++i)
      inflight_ += bufs[i].len;
    if (!req_)
      req_ = new uv_write_t;
    req_->data = this;
    const int rc = uv_write(req_, stream_, bufs, static_cast<unsigned>(n), &StreamWriter::onWrite);
    if (rc < 0) {
      inflight_ = 0;
      return rc;
    }
    writing_ = true;
    return 0;
  }

  uint64_t written() const { return written_; }

  // For a transport that encodes the bytes on their way to the socket (TLS: client_tls.h), in
  // place of flush(): up to `max` iovecs over the queued bytes, then how many of them it took
  // (they count as written).
  size_t peek(uv_buf_t* bufs, size_t max) const { return queue_.gather(0, bufs, max); }
  void taken(size_t n) {
    queue_.consume(n);
    written_ += n;
  }

private:
  static constexpr size_t kTryBufs = 16;
  static constexpr size_t kMaxBufs = 64;

  static void onWrite(uv_write_t* req, int status) {
    auto* self = static_cast<StreamWriter*>(req->data);
    self->writing_ = false;
    if (status == 0) {
      self->queue_.consume(self->inflight_);
      self->written_ += self->inflight_;
    }
    self->inflight_ = 0;
    // An idle connection keeps no request object.
    delete self->req_;
    self->req_ = nullptr;
    self->done_(self->owner_, status);
  }

  uv_stream_t* stream_ = nullptr;
  void* owner_ = nullptr;
  DoneFn done_ = nullptr;
  uv_write_t* req_ = nullptr;  // only while a write is in flight
  OutQueue queue_;
  size_t inflight_ = 0;  // bytes at the front of queue_ handed to uv_write
  uint64_t written_ = 0;
  bool writing_ = false;
};

}  // namespace kw

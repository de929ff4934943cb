// Incoming bytes of one connection that could not be used yet (an incomplete request or reply).
// Reads go straight into its free space once it holds something (no copy from the worker's read
// buffer), and bytes are consumed by advancing an offset: the rest never moves, except once when
// the free space at the end runs out and the unread part is moved to the front (each byte at most
// once per time the buffer fills). Empty, it holds no memory.
//
// Its memory is a SharedBlock: a send queue may keep a reference to a large request in it and
// write it to Redis from there (OutQueue::appendShared). While that is so, nothing already in the
// block is overwritten: room is made in a new block instead.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string_view>

#include "proxy/shared_block.h"

namespace kw {

class InBuffer {
public:
  InBuffer() = default;
  InBuffer(const InBuffer&) = delete;
  InBuffer& operator=(const InBuffer&) = delete;
  ~InBuffer() { release(); }

  bool empty() const { return begin_ == end_; }
  size_t size() const { return end_ - begin_; }
  size_t capacity() const { return block_ ? block_->capacity() : 0; }
  std::string_view view() const {
    return block_ ? std::string_view(block_->data() + begin_, end_ - begin_) : std::string_view();
  }
  // The block the bytes of view() live in (nullptr when empty).
  SharedBlock* block() const { return block_; }

  // Room for at least `want` more bytes at the end; returns where to write them and, in *room,
  // how many fit (maybe more than asked).
  char* reserve(size_t want, size_t* room) {
    if (capacity() - end_ < want) {
      const size_t used = end_ - begin_;
      if (block_ && !block_->shared() && begin_ > 0 && capacity() - used >= want &&
          begin_ >= used) {
        // Enough room once the unread bytes move to the front, and they are no more than what
        // was consumed before them: moving them costs less than what was already read.
        std::memmove(block_->data(), block_->data() + begin_, used);
      } else {
        const size_t cap = std::max(used + want, capacity() + capacity() / 2);
        SharedBlock* grown = SharedBlock::make(cap);
        if (used > 0)
          std::memcpy(grown->data(), block_->data() + begin_, used);
        if (block_)
          block_->unref();
        block_ = grown;
      }
      begin_ = 0;
      end_ = used;
    }
    *room = capacity() - end_;
    return block_->data() + end_;
  }
  // `n` bytes were written at the pointer reserve() returned.
  void commit(size_t n) { end_ += n; }
  void append(std::string_view bytes) {
    size_t room = 0;
    char* at = reserve(bytes.size(), &room);
    std::memcpy(at, bytes.data(), bytes.size());
    commit(bytes.size());
  }
  void consume(size_t n) {
    begin_ += std::min(n, end_ - begin_);
    if (begin_ == end_)
      release();
  }
  // Drops the contents and this buffer's hold on the memory.
  void release() {
    if (block_)
      block_->unref();
    block_ = nullptr;
    begin_ = end_ = 0;
  }

private:
  SharedBlock* block_ = nullptr;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace kw

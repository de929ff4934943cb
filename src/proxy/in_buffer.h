// Incoming bytes of one connection that could not be used yet (an incomplete request or reply).
// Reads go straight into its free space once it holds something (no copy from the worker's read
// buffer), and bytes are consumed by advancing an offset: the rest never moves, except once when
// the free space at the end runs out and the unread part is moved to the front (each byte at most
// once per time the buffer fills). Empty, it holds no memory.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace kw {

class InBuffer {
public:
  InBuffer() = default;
  InBuffer(const InBuffer&) = delete;
  InBuffer& operator=(const InBuffer&) = delete;

  bool empty() const { return begin_ == end_; }
  size_t size() const { return end_ - begin_; }
  size_t capacity() const { return capacity_; }
  std::string_view view() const { return {data_.get() + begin_, end_ - begin_}; }

  // Room for at least `want` more bytes at the end; returns where to write them and, in *room,
  // how many fit (maybe more than asked).
  char* reserve(size_t want, size_t* room) {
    if (capacity_ - end_ < want) {
      const size_t used = end_ - begin_;
      if (begin_ > 0 && capacity_ - used >= want && begin_ >= used) {
        // Enough room once the unread bytes move to the front, and they are no more than what
        // was consumed before them: moving them costs less than what was already read.
        std::memmove(data_.get(), data_.get() + begin_, used);
      } else {
        const size_t cap = std::max(used + want, capacity_ + capacity_ / 2);
        std::unique_ptr<char[]> grown(new char[cap]);
        if (used > 0)
          std::memcpy(grown.get(), data_.get() + begin_, used);
        data_ = std::move(grown);
        capacity_ = cap;
      }
      begin_ = 0;
      end_ = used;
    }
    *room = capacity_ - end_;
    return data_.get() + end_;
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
  // Drops the contents and the memory.
  void release() {
    data_.reset();
    capacity_ = begin_ = end_ = 0;
  }

private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace kw

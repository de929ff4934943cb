// A block of bytes with a reference count, owned by one worker thread: an input buffer and the
// send queues that forward parts of it without copying (a large request is written to Redis
// straight from the memory it was read into). Not thread-safe: one loop owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace kw {

class SharedBlock {
public:
  static SharedBlock* make(size_t capacity) {
    void* mem = ::operator new(sizeof(SharedBlock) + capacity);
    return new (mem) SharedBlock(capacity);
  }
  void ref() { ++refs_; }
  void unref() {
    if (--refs_ == 0) {
      this->~SharedBlock();
      ::operator delete(this);
    }
  }
  bool shared() const { return refs_ > 1; }
  size_t capacity() const { return capacity_; }
  char* data() { return reinterpret_cast<char*>(this + 1); }
  const char* data() const { return reinterpret_cast<const char*>(this + 1); }
  bool contains(const char* p, size_t n) const {
    return p >= data() && p + n <= data() + capacity_;
  }

private:
  explicit SharedBlock(size_t capacity) : capacity_(capacity) {}
  ~SharedBlock() = default;

  size_t capacity_;
  uint32_t refs_ = 1;
};

}  // namespace kw

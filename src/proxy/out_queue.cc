#include "proxy/out_queue.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace kw {

ChunkPool::~ChunkPool() {
  for (void* b : free_)
    ::operator delete(b);
}

void* ChunkPool::take() {
  if (free_.empty())
    return ::operator new(kChunkBytes);
  void* b = free_.back();
  free_.pop_back();
  return b;
}

void ChunkPool::give(void* block) {
  if (free_.size() >= kMaxFree) {
    ::operator delete(block);
    return;
  }
  free_.push_back(block);
}

OutQueue::Chunk* OutQueue::newChunk(size_t min_capacity) {
  constexpr size_t kStandard = ChunkPool::kChunkBytes - sizeof(Chunk);
  void* block;
  size_t capacity;
  if (min_capacity <= kStandard && pool_) {
    block = pool_->take();
    capacity = kStandard;
  } else {
    // A large payload gets a block of its own size (rounded to a page so the allocator's size
    // classes fit it), written straight from there and freed once written.
    capacity = std::max(min_capacity, kStandard);
    const size_t bytes = (sizeof(Chunk) + capacity + 4095) & ~size_t{4095};
    capacity = bytes - sizeof(Chunk);
    block = ::operator new(bytes);
  }
  auto* c = new (block) Chunk{nullptr, nullptr, capacity, 0, 0, nullptr};
  c->bytes = reinterpret_cast<char*>(c + 1);
  return c;
}

void OutQueue::freeChunk(Chunk* c) {
  constexpr size_t kStandard = ChunkPool::kChunkBytes - sizeof(Chunk);
  if (c->shared) {
    c->shared->unref();
    c->~Chunk();
    ::operator delete(c);
    return;
  }
  const bool standard = c->capacity == kStandard && pool_;
  c->~Chunk();
  if (standard)
    pool_->give(c);
  else
    ::operator delete(c);
}

void OutQueue::append(std::string_view bytes) {
  if (bytes.empty())
    return;
  size_ += bytes.size();
  if (tail_ && tail_->capacity > tail_->end) {
    const size_t n = std::min(bytes.size(), tail_->capacity - tail_->end);
    std::memcpy(tail_->data() + tail_->end, bytes.data(), n);
    tail_->end += n;
    bytes.remove_prefix(n);
    if (bytes.empty())
      return;
  }
  Chunk* c = newChunk(bytes.size());
  std::memcpy(c->data(), bytes.data(), bytes.size());
  c->end = bytes.size();
  if (tail_)
    tail_->next = c;
  else
    head_ = c;
  tail_ = c;
}

void OutQueue::appendShared(SharedBlock* block, std::string_view bytes) {
  if (bytes.empty())
    return;
  block->ref();
  void* mem = ::operator new(sizeof(Chunk));
  // Full from the start: nothing is ever appended into another owner's bytes.
  auto* c = new (mem)
      Chunk{nullptr, const_cast<char*>(bytes.data()), bytes.size(), 0, bytes.size(), block};
  size_ += bytes.size();
  if (tail_)
    tail_->next = c;
  else
    head_ = c;
  tail_ = c;
}

void OutQueue::prepend(std::string_view bytes) {
  if (bytes.empty())
    return;
  if (head_ && !head_->shared && head_->begin >= bytes.size()) {
    head_->begin -= bytes.size();
    std::memcpy(head_->data() + head_->begin, bytes.data(), bytes.size());
    size_ += bytes.size();
    return;
  }
  Chunk* c = newChunk(bytes.size());
  std::memcpy(c->data(), bytes.data(), bytes.size());
  c->end = bytes.size();
  c->next = head_;
  head_ = c;
  if (!tail_)
    tail_ = c;
  size_ += bytes.size();
}

size_t OutQueue::gather(size_t skip, uv_buf_t* out, size_t max) const {
  size_t n = 0;
  for (const Chunk* c = head_; c && n < max; c = c->next) {
    const size_t len = c->end - c->begin;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    out[n++] = uv_buf_init(const_cast<char*>(c->data() + c->begin + skip),
                           static_cast<unsigned>(len - skip));
    skip = 0;
  }
  return n;
}

void OutQueue::consume(size_t n) {
  n = std::min(n, size_);
  size_ -= n;
  while (n > 0 && head_) {
    const size_t len = head_->end - head_->begin;
    if (n < len) {
      head_->begin += n;
      return;
    }
    n -= len;
    Chunk* c = head_;
    head_ = c->next;
    if (!head_)
      tail_ = nullptr;
    freeChunk(c);
  }
  // The queue is empty: a lone chunk left behind is handed back too, so an idle connection
  // holds no buffer.
  if (size_ == 0 && head_) {
    Chunk* c = head_;
    head_ = tail_ = nullptr;
    freeChunk(c);
  }
}

void OutQueue::clear() {
  while (head_) {
    Chunk* c = head_;
    head_ = c->next;
    freeChunk(c);
  }
  tail_ = nullptr;
  size_ = 0;
}

size_t OutQueue::capacity() const {
  size_t total = 0;
  for (const Chunk* c = head_; c; c = c->next)
    total += c->shared ? 0 : c->capacity;  // shared bytes are counted by their owner
  return total;
}

}  // namespace kw

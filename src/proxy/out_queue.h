// Outgoing bytes of one connection as a queue of chunks. Bytes are copied once, when they are
// queued; after that they never move: a partial write only advances the front chunk's offset, so
// the cost of a write is proportional to what it writes, never to what is still queued behind.
//
//   append(bytes)      copied into the tail chunk (a pooled 16 KiB chunk, or one of its own size
//                      for a large payload)
//   appendShared(b, v) not copied: a chunk refers to `v` inside the block `b` (a large request
//                      written to Redis from the input buffer it was read into)
//   gather(skip, iov)  the queued bytes from `skip` on, as iovecs for writev (no copy)
//   consume(n)         the first n bytes were written: whole chunks go back to the pool
//
// Chunks come from the worker's ChunkPool, so a connection holds no buffer while it has nothing
// to write (an idle connection costs nothing here) and the steady state allocates nothing.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "proxy/shared_block.h"

namespace kw {

// Per worker (one thread): a free list of standard chunks.
class ChunkPool {
public:
  static constexpr uint32_t kChunkBytes = 16 * 1024;

  ChunkPool() = default;
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;
  ~ChunkPool();

  // A standard block (kChunkBytes), from the free list when it has one.
  void* take();
  void give(void* block);
  size_t freeCount() const { return free_.size(); }

private:
  static constexpr size_t kMaxFree = 64;  // 1 MiB kept at most per worker
  std::vector<void*> free_;
};

class OutQueue {
public:
  explicit OutQueue(ChunkPool* pool = nullptr) : pool_(pool) {}
  OutQueue(const OutQueue&) = delete;
  OutQueue& operator=(const OutQueue&) = delete;
  ~OutQueue() { clear(); }

  void setPool(ChunkPool* pool) { pool_ = pool; }
  void append(std::string_view bytes);
  // `bytes` lies inside `block`, which is kept (a reference) until they are written.
  void appendShared(SharedBlock* block, std::string_view bytes);
  // Appends, in front of everything queued (a handshake queued before the requests that waited
  // for the connection). Only while nothing is being written.
  void prepend(std::string_view bytes);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Up to `max` buffers covering the queued bytes from offset `skip` on; returns how many.
  size_t gather(size_t skip, uv_buf_t* out, size_t max) const;
  // The first `n` bytes were written.
  void consume(size_t n);
  void clear();
  // Memory held (chunk capacities), for CLIENT LIST and the memory tests.
  size_t capacity() const;

private:
  // The header sits at the start of its block and the bytes follow it, or (`shared`) the bytes
  // are another owner's and the header only refers to them.
  struct Chunk {
    Chunk* next;
    char* bytes;
    size_t capacity;
    size_t begin;         // first unwritten byte
    size_t end;           // one past the last queued byte
    SharedBlock* shared;  // the owner of `bytes`, or nullptr
    char* data() { return bytes; }
    const char* data() const { return bytes; }
  };
  Chunk* newChunk(size_t min_capacity);
  void freeChunk(Chunk* c);

  ChunkPool* pool_;
  Chunk* head_ = nullptr;
  Chunk* tail_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kw

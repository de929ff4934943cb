// The byte buffers of every connection: the send queue (chunks, writev, never moved once queued,
// shared spans of another buffer) and the input buffer (read in place, consumed by an offset,
// never overwriting bytes a send queue still refers to).
#include <doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "proxy/in_buffer.h"
#include "proxy/out_queue.h"

using kw::ChunkPool;
using kw::InBuffer;
using kw::OutQueue;
using kw::SharedBlock;

namespace {

// Everything queued from `skip` on, gathered as a writev would see it.
std::string gathered(const OutQueue& q, size_t skip = 0) {
  uv_buf_t bufs[256];
  const size_t n = q.gather(skip, bufs, 256);
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out.append(bufs[i].base, bufs[i].len);
  return out;
}

std::string pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>(seed + static_cast<char>(i % 23));
  return s;
}

}  // namespace

TEST_CASE("the send queue keeps bytes in order across chunks and partial writes") {
  ChunkPool pool;
  OutQueue q(&pool);
  std::string all;
  for (int i = 0; i < 200; ++i) {
    const std::string part =
        pattern(static_cast<size_t>(37 + i * 101), static_cast<char>('a' + i % 5));
    q.append(part);
    all += part;
  }
  CHECK(q.size() == all.size());
  CHECK(gathered(q) == all);
  CHECK(gathered(q, 1000) == all.substr(1000));
  // Written a little at a time, as a kernel with a full buffer takes it.
  size_t written = 0;
  while (!q.empty()) {
    const size_t n = std::min<size_t>(q.size(), 5000 + written % 7);
    CHECK(gathered(q).substr(0, n) == all.substr(written, n));
    q.consume(n);
    written += n;
  }
  CHECK(written == all.size());
  CHECK(q.capacity() == 0);  // an empty queue holds no chunk
  CHECK(pool.freeCount() > 0);
}

TEST_CASE("a payload larger than a chunk gets one chunk of its own size") {
  ChunkPool pool;
  OutQueue q(&pool);
  const std::string big = pattern(1 << 20, 'x');
  q.append("head");
  q.append(big);
  uv_buf_t bufs[8];
  const size_t n = q.gather(0, bufs, 8);
  CHECK(n <= 3);
  CHECK(gathered(q) == "head" + big);
  q.consume(q.size());
  CHECK(q.empty());
}

TEST_CASE("prepend puts a handshake in front of queued requests") {
  ChunkPool pool;
  OutQueue q(&pool);
  q.append("GET a\r\n");
  q.prepend("HELLO 2\r\n");
  CHECK(gathered(q) == "HELLO 2\r\nGET a\r\n");
  q.consume(3);
  q.prepend("X");  // fits in front of the consumed bytes
  CHECK(gathered(q) == "XLO 2\r\nGET a\r\n");
}

TEST_CASE("a shared span is written from its owner's memory and keeps it alive until written") {
  ChunkPool pool;
  OutQueue q(&pool);
  SharedBlock* block = SharedBlock::make(64);
  std::memcpy(block->data(), "0123456789abcdef", 16);
  q.append("<");
  q.appendShared(block, std::string_view(block->data() + 4, 8));
  q.append(">");
  CHECK(block->shared());
  uv_buf_t bufs[4];
  REQUIRE(q.gather(0, bufs, 4) == 3);
  CHECK(bufs[1].base == block->data() + 4);  // not copied
  CHECK(gathered(q) == "<456789ab>");
  block->unref();  // its first owner lets go: the queue still holds it
  CHECK(gathered(q) == "<456789ab>");
  q.consume(5);
  CHECK(gathered(q) == "89ab>");
  q.consume(5);
  CHECK(q.empty());  // (ASan reports a leak if the block was not freed)
}

TEST_CASE("the input buffer reads in place, consumes by offset and empties to nothing") {
  InBuffer in;
  CHECK(in.capacity() == 0);
  size_t room = 0;
  char* at = in.reserve(11, &room);
  REQUIRE(room >= 11);
  std::memcpy(at, "hello world", 11);
  in.commit(11);
  CHECK(in.view() == "hello world");
  in.consume(6);
  CHECK(in.view() == "world");
  in.append("!");
  CHECK(in.view() == "world!");
  in.consume(6);
  CHECK(in.empty());
  CHECK(in.capacity() == 0);
}

TEST_CASE("the input buffer never overwrites bytes a send queue still refers to") {
  ChunkPool pool;
  OutQueue q(&pool);
  InBuffer in;
  in.append(pattern(1000, 'a'));
  const std::string frame(in.view().substr(0, 600));
  q.appendShared(in.block(), in.view().substr(0, 600));
  in.consume(600);
  // Room that the unread 400 bytes moved to the front would give: not while the block is shared.
  size_t room = 0;
  char* at = in.reserve(in.capacity() - 100, &room);
  std::memset(at, 'Z', room);
  in.commit(room);
  CHECK(gathered(q) == frame);
  CHECK(in.view().substr(0, 400) == pattern(1000, 'a').substr(600));
  q.consume(q.size());
}

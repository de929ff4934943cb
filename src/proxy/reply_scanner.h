// Finds the boundaries of RESP2/RESP3 replies in a byte stream without building objects.
// Used on every upstream connection: reply bytes are forwarded to clients verbatim, so the
// proxy only needs to know where each reply ends (and whether it is a push frame).
// Resumable: a reply split across reads is not rescanned from its start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kw {

class ReplyScanner {
public:
  enum class Status { kComplete, kNeedMore, kError };

  struct Frame {
    size_t length = 0;  // bytes of the whole top-level reply, including attributes before it
    char type = 0;  // first byte of the top-level value after any attribute ('+', '-', '>', ...)
    bool is_push = false;  // RESP3 out-of-band push ('>')
  };

  // Scans the reply that starts at in[0]. Call again with the same (possibly extended) span after
  // kNeedMore; call reset() after a kComplete before scanning the next reply.
  Status scan(std::string_view in, Frame* frame);
  void reset() { *this = ReplyScanner(); }

  const char* error() const { return error_; }
  // After kNeedMore: how many bytes of input the reply needs at least (the end of the bulk
  // payload being waited for), or 0 when it cannot tell. Lets a reader make room for a large
  // value once instead of growing its buffer as the value arrives.
  size_t needHint() const { return need_; }

private:
  size_t need_ = 0;
  size_t pos_ = 0;       // offset of the first element not yet fully scanned
  int64_t pending_ = 1;  // elements still expected before the top-level reply is complete
  char top_type_ = 0;
  bool top_seen_ = false;
  const char* error_ = "";
};

}  // namespace kw

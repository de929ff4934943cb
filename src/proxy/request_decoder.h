// Client request decoding: finds the next complete request in a byte span and splits it into
// arguments. Multibulk requests (`*N\r\n$len\r\n...`) are framed and cap-checked by a small
// header scanner (so an oversized bulk is refused at its header, not after 512 MiB arrive) and
// then decoded with hiredis's redisReader; anything else is an inline command (telnet style).
//
// hiredis copies every frame it is fed into a buffer of its own. Past kHiredisMaxFrame that copy
// would be the largest cost of the request (a 100 MiB SET), so a larger frame takes its arguments
// from the header scan, which has already checked every header and knows where each argument is.
// The fuzz target decodes every input both ways and requires the same arguments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct redisReader;

namespace kw {

struct DecodeLimits {
  uint64_t max_bulk_len = 512ull << 20;
  uint32_t max_array_len = 1u << 20;
  uint32_t max_inline_len = 64u << 10;
};

struct DecodedRequest {
  // Exact RESP multibulk bytes of the request, suitable for forwarding upstream unchanged.
  // Points into the input span (multibulk) or into the decoder's scratch (inline, re-encoded).
  std::string_view raw;
  std::vector<std::string_view> args;  // never empty for a kRequest result
};

class RequestDecoder {
public:
  enum class Status {
    kRequest,   // *out is filled; `consumed` bytes were used
    kSkip,      // an empty request (`*0`, `*-1`, blank inline line): consume and send nothing
    kNeedMore,  // the span holds no complete request yet (consumed == 0)
    kError,     // protocol error; error() holds the Redis-style message without "-ERR " prefix
  };

  RequestDecoder();
  ~RequestDecoder();
  RequestDecoder(const RequestDecoder&) = delete;
  RequestDecoder& operator=(const RequestDecoder&) = delete;

  // Decodes at most one request from the front of `in`. Views in *out stay valid until the next
  // call or until `in` changes, whichever comes first.
  Status next(std::string_view in, const DecodeLimits& limits, DecodedRequest* out,
              size_t* consumed);

  // e.g. "Protocol error: invalid bulk length", matching Redis's texts.
  const std::string& error() const { return error_; }
  // After kNeedMore: the size of the frame so far known to be needed (up to the end of the bulk
  // being waited for), or 0. A reader makes room for it once instead of growing as it arrives.
  size_t needHint() const { return need_; }

  static constexpr size_t kHiredisMaxFrame = 1u << 20;
  // For the fuzz target: the frame-size limit above which hiredis is not used (0: never).
  void setHiredisMaxFrame(size_t n) { hiredis_max_ = n; }

private:
  size_t need_ = 0;
  size_t hiredis_max_ = kHiredisMaxFrame;
  redisReader* reader_;
  std::string inline_scratch_;
  std::string error_;
};

}  // namespace kw

// Reading single RESP values out of a complete frame (already framed by ReplyScanner): the
// pieces the near cache, the invalidation feed and the budget enforcer parse replies with.
// Each returns false when the bytes at *pos are not exactly what it reads, and then leaves *pos
// wherever it stopped.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kw {

// "<type><integer>\r\n" at *pos.
inline bool readRespHeader(std::string_view in, size_t* pos, char type, int64_t* n) {
  if (*pos >= in.size() || in[*pos] != type)
    return false;
  const size_t eol = in.find("\r\n", *pos + 1);
  if (eol == std::string_view::npos)
    return false;
  const char* first = in.data() + *pos + 1;
  const char* last = in.data() + eol;
  auto r = std::from_chars(first, last, *n);
  if (r.ec != std::errc() || r.ptr != last)
    return false;
  *pos = eol + 2;
  return true;
}

// The n bytes of a bulk string whose header was read, and their CRLF, at *pos.
inline bool readRespBulkBody(std::string_view in, size_t* pos, size_t n, std::string_view* out) {
  if (n > in.size() - *pos || in.size() - *pos - n < 2 || in[*pos + n] != '\r' ||
      in[*pos + n + 1] != '\n')
    return false;
  *out = in.substr(*pos, n);
  *pos += n + 2;
  return true;
}

}  // namespace kw

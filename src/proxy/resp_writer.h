// Encoders for the replies the proxy produces itself, in the client's protocol version.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace kw::resp {

inline void appendInt(std::string* out, char prefix, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->push_back(prefix);
  // (pointer, length), not the iterator-range overload: GCC 12 cannot bound the range one and
  // warns (-Wrestrict) about an impossible overlap wherever this is inlined.
  out->append(buf, static_cast<size_t>(r.ptr - buf));
  out->append("\r\n", 2);
}

inline void simple(std::string* out, std::string_view s) {
  out->push_back('+');
  out->append(s);
  out->append("\r\n", 2);
}
// Client input quoted inside an error line: CR and LF blanked, as Redis's addReplyErrorFormat
// does, so the reply stays one line whatever the client sent.
inline std::string quotedInError(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\r' || c == '\n')
      c = ' ';
  return out;
}

// `msg` includes the error code, e.g. "ERR unknown command".
inline void error(std::string* out, std::string_view msg) {
  out->push_back('-');
  out->append(msg);
  out->append("\r\n", 2);
}
inline void integer(std::string* out, int64_t v) {
  appendInt(out, ':', v);
}
inline void bulk(std::string* out, std::string_view s) {
  appendInt(out, '$', static_cast<int64_t>(s.size()));
  out->append(s);
  out->append("\r\n", 2);
}
inline void null(std::string* out, int proto) {
  if (proto >= 3)
    out->append("_\r\n", 3);
  else
    out->append("$-1\r\n", 5);
}
inline void arrayHeader(std::string* out, int64_t n) {
  appendInt(out, '*', n);
}
// A map of n pairs: RESP3 '%', RESP2 a flat array of 2n.
inline void mapHeader(std::string* out, int proto, int64_t n) {
  if (proto >= 3)
    appendInt(out, '%', n);
  else
    appendInt(out, '*', 2 * n);
}
// Verbatim text ("txt"), as Redis sends CLIENT INFO / INFO: a bulk string in RESP2.
inline void verbatim(std::string* out, int proto, std::string_view s) {
  if (proto < 3)
    return bulk(out, s);
  appendInt(out, '=', static_cast<int64_t>(s.size() + 4));
  out->append("txt:", 4);
  out->append(s);
  out->append("\r\n", 2);
}

}  // namespace kw::resp

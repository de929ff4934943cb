#include "cluster/reply_parts.h"

#include <charconv>

#include "proxy/reply_scanner.h"

namespace kw::cluster {

std::string_view errorText(std::string_view reply) {
  const size_t eol = reply.find("\r\n");
  if (reply.empty() || eol == std::string_view::npos)
    return {};
  if (reply[0] == '-')
    return reply.substr(1, eol - 1);
  if (reply[0] == '!') {
    size_t len = 0;
    auto r = std::from_chars(reply.data() + 1, reply.data() + eol, len);
    if (r.ec != std::errc() || r.ptr != reply.data() + eol || len > reply.size() - eol - 2)
      return {};
    return reply.substr(eol + 2, len);
  }
  return {};
}

bool readInteger(std::string_view reply, int64_t* out) {
  if (reply.size() < 4 || reply[0] != ':' || reply.substr(reply.size() - 2) != "\r\n")
    return false;
  const char* first = reply.data() + 1;
  const char* last = reply.data() + reply.size() - 2;
  auto r = std::from_chars(first, last, *out);
  return r.ec == std::errc() && r.ptr == last;
}

bool arrayElements(std::string_view reply, uint32_t count, std::vector<std::string_view>* out) {
  if (reply.empty() || reply[0] != '*')
    return false;
  const size_t eol = reply.find("\r\n");
  if (eol == std::string_view::npos)
    return false;
  uint64_t n = 0;
  auto r = std::from_chars(reply.data() + 1, reply.data() + eol, n);
  if (r.ec != std::errc() || r.ptr != reply.data() + eol || n != count)
    return false;
  size_t pos = eol + 2;
  for (uint32_t i = 0; i < count; ++i) {
    ReplyScanner scanner;
    ReplyScanner::Frame frame;
    if (scanner.scan(reply.substr(pos), &frame) != ReplyScanner::Status::kComplete || frame.is_push)
      return false;
    out->push_back(reply.substr(pos, frame.length));
    pos += frame.length;
  }
  return pos == reply.size();
}

std::string oneLine(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\r' || c == '\n')
      c = ' ';
  return out;
}

std::string respLine(char type, int64_t n) {
  std::string out(1, type);
  out += std::to_string(n);
  out += "\r\n";
  return out;
}

bool arrayCount(std::string_view reply, uint64_t* count) {
  if (reply.empty() || reply[0] != '*')
    return false;
  const size_t eol = reply.find("\r\n");
  if (eol == std::string_view::npos)
    return false;
  auto r = std::from_chars(reply.data() + 1, reply.data() + eol, *count);
  return r.ec == std::errc() && r.ptr == reply.data() + eol;
}

}  // namespace kw::cluster

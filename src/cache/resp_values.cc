#include "cache/resp_values.h"

#include "common/resp_read.h"

namespace kw {
namespace {

// One bulk or nil element at *pos.
bool element(std::string_view in, size_t* pos, std::optional<std::string_view>* out) {
  if (in.substr(*pos, 3) == "_\r\n") {
    *out = std::nullopt;
    *pos += 3;
    return true;
  }
  int64_t len = 0;
  if (!readRespHeader(in, pos, '$', &len) || len < -1)
    return false;
  if (len == -1) {
    *out = std::nullopt;
    return true;
  }
  std::string_view v;
  if (!readRespBulkBody(in, pos, static_cast<size_t>(len), &v))
    return false;
  *out = v;
  return true;
}

}  // namespace

bool parseBulkOrNil(std::string_view reply, std::optional<std::string_view>* out) {
  size_t pos = 0;
  return element(reply, &pos, out) && pos == reply.size();
}

bool parseInteger(std::string_view reply, int64_t* out) {
  size_t pos = 0;
  return readRespHeader(reply, &pos, ':', out) && pos == reply.size();
}

bool parseBulkArray(std::string_view reply, bool map_ok,
                    std::vector<std::optional<std::string_view>>* out) {
  out->clear();
  size_t pos = 0;
  int64_t n = 0;
  if (map_ok && !reply.empty() && reply[0] == '%') {
    if (!readRespHeader(reply, &pos, '%', &n) || n < 0 || n > INT64_MAX / 2)
      return false;
    n *= 2;
  } else if (!readRespHeader(reply, &pos, '*', &n) || n < 0) {
    return false;
  }
  if (static_cast<uint64_t>(n) > reply.size())  // every element takes at least 3 bytes
    return false;
  out->reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    std::optional<std::string_view> v;
    if (!element(reply, &pos, &v))
      return false;
    out->push_back(v);
  }
  return pos == reply.size();
}

bool parseScanReply(std::string_view reply, std::string_view* cursor,
                    std::vector<std::string_view>* keys) {
  keys->clear();
  size_t pos = 0;
  int64_t n = 0;
  std::optional<std::string_view> c;
  if (!readRespHeader(reply, &pos, '*', &n) || n != 2 || !element(reply, &pos, &c) || !c)
    return false;
  *cursor = *c;
  int64_t count = 0;
  if (!readRespHeader(reply, &pos, '*', &count) || count < 0 ||
      static_cast<uint64_t>(count) > reply.size())
    return false;
  for (int64_t i = 0; i < count; ++i) {
    std::optional<std::string_view> k;
    if (!element(reply, &pos, &k) || !k)
      return false;
    keys->push_back(*k);
  }
  return pos == reply.size();
}

}  // namespace kw

#include "tracking/tracking_frames.h"

#include <algorithm>

#include "common/resp_read.h"

namespace kw {
namespace {

// A bulk string at *pos into *out.
bool bulk(std::string_view in, size_t* pos, std::string_view* out) {
  int64_t len = 0;
  return readRespHeader(in, pos, '$', &len) && len >= 0 &&
         readRespBulkBody(in, pos, static_cast<size_t>(len), out);
}

}  // namespace

FeedFrameKind parseFeedFrame(std::string_view frame, std::vector<std::string_view>* keys) {
  keys->clear();
  if (frame.empty() || frame[0] != '>')
    return FeedFrameKind::kReply;
  size_t pos = 0;
  int64_t items = 0;
  std::string_view kind;
  if (!readRespHeader(frame, &pos, '>', &items) || items < 1 || !bulk(frame, &pos, &kind))
    return FeedFrameKind::kMalformed;
  if (kind != "invalidate")
    return FeedFrameKind::kOtherPush;
  if (items != 2 || pos >= frame.size())
    return FeedFrameKind::kMalformed;
  if (frame.substr(pos) == "_\r\n" || frame.substr(pos) == "*-1\r\n")
    return FeedFrameKind::kInvalidateAll;
  int64_t count = 0;
  if (!readRespHeader(frame, &pos, '*', &count) || count < 0 ||
      static_cast<uint64_t>(count) > frame.size())  // each key takes bytes: a bound, not a limit
    return FeedFrameKind::kMalformed;
  for (int64_t i = 0; i < count; ++i) {
    std::string_view key;
    if (!bulk(frame, &pos, &key)) {
      keys->clear();
      return FeedFrameKind::kMalformed;
    }
    keys->push_back(key);
  }
  if (pos != frame.size()) {
    keys->clear();
    return FeedFrameKind::kMalformed;
  }
  return FeedFrameKind::kInvalidateKeys;
}

std::vector<std::string> nonOverlappingPrefixes(std::vector<std::string> prefixes) {
  // In sorted order a prefix comes right before every string it starts, so one pass that keeps
  // a prefix only when the last one kept does not start it removes every overlap.
  std::sort(prefixes.begin(), prefixes.end());
  std::vector<std::string> out;
  for (std::string& p : prefixes) {
    if (!out.empty() && std::string_view(p).substr(0, out.back().size()) == out.back())
      continue;
    out.push_back(std::move(p));
  }
  return out;
}

bool underAnyPrefix(std::string_view key, const std::vector<std::string>& prefixes) {
  for (const std::string& p : prefixes)
    if (key.substr(0, p.size()) == p)
      return true;
  return false;
}

}  // namespace kw

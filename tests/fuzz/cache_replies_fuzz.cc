// The parsers of the near cache and the invalidation feed over untrusted reply bytes: frames are
// cut by the ReplyScanner as on a real connection, then handed to every parser. Checks: nothing
// reads outside the frame, what parses re-encodes to the same bytes, and the BCAST prefix set
// built from the input never overlaps.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/resp_values.h"
#include "fuzz_check.h"
#include "proxy/reply_scanner.h"
#include "tracking/tracking_frames.h"

namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void bulk(std::string* out, std::string_view s) {
  *out += '$' + std::to_string(s.size()) + "\r\n";
  out->append(s);
  *out += "\r\n";
}

void checkFrame(std::string_view frame) {
  std::vector<std::string_view> keys;
  const kw::FeedFrameKind kind = kw::parseFeedFrame(frame, &keys);
  if (kind == kw::FeedFrameKind::kInvalidateKeys) {
    std::string again = ">2\r\n$10\r\ninvalidate\r\n*" + std::to_string(keys.size()) + "\r\n";
    for (std::string_view k : keys) {
      FUZZ_CHECK(inside(k, frame));
      bulk(&again, k);
    }
    FUZZ_CHECK(again == frame);
  } else {
    FUZZ_CHECK(keys.empty());
  }
  FUZZ_CHECK((kind == kw::FeedFrameKind::kReply) == (frame[0] != '>'));

  std::optional<std::string_view> v;
  if (kw::parseBulkOrNil(frame, &v) && v)
    FUZZ_CHECK(inside(*v, frame) && frame == std::string("$")
                                                 .append(std::to_string(v->size()))
                                                 .append("\r\n")
                                                 .append(*v)
                                                 .append("\r\n"));
  int64_t n = 0;
  if (kw::parseInteger(frame, &n))
    FUZZ_CHECK(frame[0] == ':');
  std::vector<std::optional<std::string_view>> values;
  for (bool map_ok : {false, true}) {
    if (!kw::parseBulkArray(frame, map_ok, &values))
      continue;
    FUZZ_CHECK(values.size() <= frame.size());
    for (const auto& e : values)
      if (e)
        FUZZ_CHECK(inside(*e, frame));
  }
  std::string_view cursor;
  std::vector<std::string_view> scan_keys;
  if (kw::parseScanReply(frame, &cursor, &scan_keys)) {
    FUZZ_CHECK(inside(cursor, frame));
    for (std::string_view k : scan_keys)
      FUZZ_CHECK(inside(k, frame));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t offset = 0;
  while (offset < in.size()) {
    kw::ReplyScanner scanner;
    kw::ReplyScanner::Frame frame;
    if (scanner.scan(in.substr(offset), &frame) != kw::ReplyScanner::Status::kComplete)
      break;
    checkFrame(in.substr(offset, frame.length));
    offset += frame.length;
  }
  // The input's lines as prefixes.
  std::vector<std::string> prefixes;
  for (size_t at = 0; at <= in.size();) {
    size_t eol = in.find('\n', at);
    if (eol == std::string_view::npos)
      eol = in.size();
    prefixes.emplace_back(in.substr(at, std::min<size_t>(eol - at, 64)));
    at = eol + 1;
    if (prefixes.size() >= 64)
      break;
  }
  const std::vector<std::string> out = kw::nonOverlappingPrefixes(prefixes);
  for (size_t i = 0; i < out.size(); ++i)
    for (size_t j = 0; j < out.size(); ++j)
      if (i != j)
        FUZZ_CHECK(out[j].compare(0, out[i].size(), out[i]) != 0);
  for (const std::string& p : prefixes)
    FUZZ_CHECK(kw::underAnyPrefix(p, out));
  return 0;
}

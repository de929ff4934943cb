// Scans every reply in the input, checking that the scanner never overreads, always makes
// progress, and finds the same boundaries whether the bytes arrive whole, split or one at a time.
#include "proxy/reply_scanner.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "fuzz_check.h"

namespace {

using kw::ReplyScanner;
using Status = ReplyScanner::Status;

struct Outcome {
  Status status;
  ReplyScanner::Frame frame;
  const char* error;
};

bool same(const Outcome& a, const Outcome& b) {
  if (a.status != b.status)
    return false;
  if (a.status == Status::kError)
    return std::strcmp(a.error, b.error) == 0;
  if (a.status == Status::kComplete) {
    return a.frame.length == b.frame.length && a.frame.type == b.frame.type &&
           a.frame.is_push == b.frame.is_push;
  }
  return true;
}

// The span grows by `step` bytes per call until the scanner decides.
Outcome scanGrowing(std::string_view in, size_t step) {
  ReplyScanner scanner;
  Outcome out{Status::kNeedMore, {}, ""};
  size_t visible = 0;
  while (true) {
    out.status = scanner.scan(in.substr(0, visible), &out.frame);
    if (out.status != Status::kNeedMore || visible == in.size())
      break;
    visible = visible + step < in.size() ? visible + step : in.size();
  }
  out.error = scanner.error();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  ReplyScanner scanner;
  size_t offset = 0;
  while (offset < in.size()) {
    const std::string_view rest = in.substr(offset);
    Outcome whole{Status::kNeedMore, {}, ""};
    whole.status = scanner.scan(rest, &whole.frame);
    whole.error = scanner.error();
    FUZZ_CHECK(same(whole, scanGrowing(rest, 1)));
    FUZZ_CHECK(same(whole, scanGrowing(rest, 7)));
    if (whole.status == Status::kError) {
      FUZZ_CHECK(std::strncmp(whole.error, "Protocol error: ", 16) == 0);
      return 0;
    }
    if (whole.status == Status::kNeedMore)
      return 0;
    const ReplyScanner::Frame& f = whole.frame;
    FUZZ_CHECK(f.length > 0 && f.length <= rest.size());
    FUZZ_CHECK(f.type != 0 && f.type != '|');
    FUZZ_CHECK(f.is_push == (f.type == '>'));
    // The frame ends exactly at `length`: a scan of just those bytes completes identically.
    Outcome exact{Status::kNeedMore, {}, ""};
    ReplyScanner fresh;
    exact.status = fresh.scan(rest.substr(0, f.length), &exact.frame);
    FUZZ_CHECK(same(whole, exact));
    ReplyScanner shorter;
    ReplyScanner::Frame ignored;
    FUZZ_CHECK(shorter.scan(rest.substr(0, f.length - 1), &ignored) == Status::kNeedMore);
    scanner.reset();
    offset += f.length;
  }
  return 0;
}

// CL.THROTTLE's parsers and arithmetic on arbitrary input: the arguments (redis-cell's rules),
// the stored value, the decision at several clocks, the local fallback, and the reply
// transformation of the Redis side's answer. Nothing may crash or overflow (UBSan), and the
// results must keep their invariants.
//
// Input: lines (LF). Line 1: the stored value ("-" for none); lines 2..: the arguments after
// the key. The whole input is also fed to throttleReplyIntegers as a reply.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "proxy/reply_scanner.h"
#include "ratelimit/cell_throttle.h"
#include "ratelimit/local_throttle.h"
#include "ratelimit/throttle_lua.h"

namespace {

bool oneFrame(std::string_view bytes) {
  kw::ReplyScanner scanner;
  kw::ReplyScanner::Frame frame;
  return scanner.scan(bytes, &frame) == kw::ReplyScanner::Status::kComplete &&
         frame.length == bytes.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  // The reply side: a whole reply stays a whole reply.
  const std::string replied = kw::throttleReplyIntegers(in);
  if (oneFrame(in))
    FUZZ_CHECK(oneFrame(replied));

  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos <= in.size() && lines.size() < 8;) {
    const size_t nl = in.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? in.size() : nl;
    lines.push_back(in.substr(pos, end - pos));
    if (nl == std::string_view::npos)
      break;
    pos = nl + 1;
  }
  if (lines.empty())
    return 0;
  std::vector<std::string_view> args{"cl.throttle", "key"};
  args.insert(args.end(), lines.begin() + 1, lines.end());
  kw::ThrottleRequest req;
  kw::ThrottleParams params;
  std::string err;
  if (!kw::parseThrottle(args, &req, &err)) {
    FUZZ_CHECK(!err.empty() && err.find('\n') == std::string::npos &&
               err.find('\r') == std::string::npos);
    return 0;
  }
  if (!kw::throttleParams(req, &params, &err))
    return 0;
  FUZZ_CHECK(params.emission_ns != 0);
  FUZZ_CHECK(params.limit == req.max_burst + 1);
  std::optional<uint64_t> tat;
  uint64_t stored = 0;
  if (lines[0] != "-") {
    if (!kw::parseStoredTat(lines[0], &stored, &err))
      return 0;
    tat = stored;
  }
  static kw::ExpiringTable table(4096);
  for (int64_t now : {int64_t{0}, int64_t{1'800'000'000'000'000'000}, INT64_MAX / 2,
                      static_cast<int64_t>(stored % (uint64_t{1} << 62))}) {
    kw::ThrottleReply reply;
    kw::ThrottleWrite write;
    if (kw::decideThrottle(params, tat, now, &reply, &write, &err)) {
      FUZZ_CHECK(reply.limit == params.limit);
      FUZZ_CHECK(!reply.limited || write.kind == kw::ThrottleWrite::Kind::kNone);
      FUZZ_CHECK(reply.limited || write.kind != kw::ThrottleWrite::Kind::kNone);
      FUZZ_CHECK(write.kind != kw::ThrottleWrite::Kind::kSet || write.ttl_ms > 0);
      FUZZ_CHECK(reply.limited || reply.retry_after_s == -1);
      std::string out;
      kw::appendThrottleReply(&out, reply);
      FUZZ_CHECK(oneFrame(out));
    }
    kw::throttleLocally(table, req.key, params, now, &reply, &err);
  }
  return 0;
}

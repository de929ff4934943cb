#include "ratelimit/throttle_stage.h"

#include <time.h>

#include <charconv>
#include <vector>

#include "proxy/command_table.h"
#include "proxy/reply_slot.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/worker.h"
#include "ratelimit/cell_throttle.h"
#include "ratelimit/local_throttle.h"
#include "ratelimit/ratelimit_runtime.h"
#include "ratelimit/throttle_lua.h"

namespace kw {
namespace {

int64_t unixNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

constexpr int64_t kMaxRetries = 2;  // reload once, or switch to scripts then load once

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// The encoded arguments after the command name: "*N\r\n$L\r\nNAME\r\n<tail>" -> <tail>. `raw` is
// a complete multibulk frame (inline requests are re-encoded as one by the decoder).
std::string_view argsTail(std::string_view raw) {
  const size_t header = raw.find("\r\n");
  if (header == std::string_view::npos || header + 3 >= raw.size() || raw[header + 2] != '$')
    return {};
  size_t len = 0;
  const char* p = raw.data() + header + 3;
  const auto r = std::from_chars(p, raw.data() + raw.size(), len);
  const size_t body = static_cast<size_t>(r.ptr - raw.data()) + 2;
  if (r.ec != std::errc() || body + len + 2 > raw.size())
    return {};
  return raw.substr(body + len + 2);
}

// Splits a tail produced by argsTail back into its arguments (bytes the decoder validated).
void splitTail(std::string_view tail, std::vector<std::string_view>* out) {
  size_t pos = 0;
  while (pos < tail.size() && tail[pos] == '$') {
    size_t len = 0;
    const auto r = std::from_chars(tail.data() + pos + 1, tail.data() + tail.size(), len);
    const size_t body = static_cast<size_t>(r.ptr - tail.data()) + 2;
    if (r.ec != std::errc() || body + len + 2 > tail.size())
      return;
    out->push_back(tail.substr(body, len));
    pos = body + len + 2;
  }
}

// CL.THROTTLE answered without Redis, as the namespace's rate_limit_fallback says.
std::string fallbackReply(RateLimitRuntime& rt, const RateLimitConfig& rl, uint32_t ns,
                          const ThrottleRequest& req, const ThrottleParams& params,
                          std::string_view cause) {
  const ThrottleFallback mode = rl.fallbackFor(ns);
  rt.noteFallback(metricsNs(ns), mode, cause);
  const int64_t now = unixNowNs();
  ThrottleReply reply;
  std::string out;
  switch (mode) {
  case ThrottleFallback::kLocal: {
    rt.throttleTable().setMaxKeys(rl.local_max_keys);
    std::string err;
    if (!throttleLocally(rt.throttleTable(), req.key, params, now, &reply, &err)) {
      resp::error(&out, err);
      return out;
    }
    break;
  }
  case ThrottleFallback::kAllow:
    reply = throttleAllowAll(params, now);
    break;
  case ThrottleFallback::kDeny:
    reply = throttleDenyAll(params, now);
    break;
  }
  appendThrottleReply(&out, reply);
  return out;
}

// Why the upstream could not take the call: the reply's text without "-" and CRLF.
std::string_view causeOf(std::string_view error_reply) {
  error_reply.remove_prefix(error_reply.empty() ? 0 : 1);
  const size_t eol = error_reply.find('\r');
  return error_reply.substr(0, eol);
}

}  // namespace

RequestStage::Verdict ThrottleStage::onRequest(StageRequest& req) {
  const CommandInfo* cmd = req.command();
  if (!cmd || cmd->id != CmdId::kClThrottle)
    return Verdict::kContinue;
  RateLimitRuntime& rt = *rt_;
  const RateLimitConfig& rl = worker_->config().rate_limit;
  const std::span<const std::string_view> args = req.args();
  const std::string_view tail = argsTail(req.raw());
  const size_t tail_count = args.size() - 1;
  call_.clear();
  if (req.inMulti()) {
    // Queued in Redis and run at EXEC, where nothing could be reloaded: the script itself
    // goes, and Redis answers any argument error inside EXEC's reply, as redis-cell would.
    appendThrottleCall(&call_, ThrottleCallForm::kEval, tail_count, tail);
    if (!req.forward(call_, this, kQueued))
      req.refuse("UPSTREAMDOWN upstream " + worker_->shared().upstream_name + " unavailable");
    return Verdict::kDone;
  }
  ThrottleRequest tr;
  ThrottleParams params;
  std::string err;
  if (!parseThrottle(std::vector<std::string_view>(args.begin(), args.end()), &tr, &err) ||
      !throttleParams(tr, &params, &err)) {
    req.refuse(err);
    return Verdict::kDone;
  }
  appendThrottleCall(&call_, rt.callForm(rl.redis_form), tail_count, tail);
  ReplySlot* slot = req.forward(call_, this, 0);
  if (!slot) {
    req.answer(fallbackReply(rt, rl, req.firstKeyNamespace(), tr, params, "upstream unavailable"));
    return Verdict::kDone;
  }
  // What a retry or a fallback needs: the argument count, then the client's argument bytes.
  slot->aux.assign(1, static_cast<char>(tail_count));
  slot->aux.append(tail);
  return Verdict::kDone;
}

std::string_view ThrottleStage::onReply(uint64_t tag, ReplySlot* slot, std::string_view b,
                                        std::string* scratch, bool* kept) {
  RateLimitRuntime& rt = *rt_;
  if (tag == kQueued)
    return b;
  if (!b.empty() && b[0] == '*') {
    rt.noteShared();
    if (b.find('$') != std::string_view::npos) {
      *scratch = throttleReplyIntegers(b);
      return *scratch;
    }
    return b;
  }
  if (slot->aux.empty())
    return b;
  const RateLimitConfig& rl = worker_->config().rate_limit;
  const auto tail_count = static_cast<size_t>(static_cast<unsigned char>(slot->aux[0]));
  const std::string_view tail = std::string_view(slot->aux).substr(1);
  if (startsWith(b, "-UPSTREAMDOWN")) {
    // The connection was lost (or timed out) with the call in flight: answer locally. The
    // call may have run in Redis too; for a limiter, counting twice is the safe side.
    std::vector<std::string_view> args{"cl.throttle"};
    splitTail(tail, &args);
    ThrottleRequest tr;
    ThrottleParams params;
    std::string err;
    if (parseThrottle(args, &tr, &err) && throttleParams(tr, &params, &err)) {
      *scratch = fallbackReply(rt, rl, slot->ns, tr, params, causeOf(b));
      return *scratch;
    }
    return b;
  }
  const bool missing = startsWith(b, "-ERR Function not found") || startsWith(b, "-NOSCRIPT");
  const bool no_fcall = startsWith(b, "-ERR unknown command") &&
                        rl.redis_form == ThrottleRedisForm::kAuto &&
                        rt.callForm(rl.redis_form) == ThrottleCallForm::kFunction;
  if ((!missing && !no_fcall) || slot->arg >= kMaxRetries || !slot->owner)
    return b;
  if (no_fcall)
    rt.noFunctions();
  // Load the code, then the same call again: the slot keeps its place in the client's replies.
  const ThrottleCallForm form = rt.callForm(rl.redis_form);
  std::string load;
  appendThrottleLoad(&load, form);
  call_.clear();
  appendThrottleCall(&call_, form, tail_count, tail);
  ++slot->arg;
  if (!slot->owner->resend(slot, load, call_))
    return b;
  worker_->stats().commands_forwarded.add();
  rt.stats().code_loads.fetch_add(1, std::memory_order_relaxed);
  *kept = true;
  return b;
}

}  // namespace kw

#include "ratelimit/ratelimit_runtime.h"

#include "common/log.h"

namespace kw {
namespace {

const char* modeName(ThrottleFallback mode) {
  switch (mode) {
  case ThrottleFallback::kLocal:
    return "local";
  case ThrottleFallback::kAllow:
    return "allow";
  case ThrottleFallback::kDeny:
    return "deny";
  }
  return "?";
}

}  // namespace

void RateLimitRuntime::noFunctions() {
  if (!no_functions_.exchange(true, std::memory_order_relaxed))
    KW_LOG_WARN("CL.THROTTLE: the upstream has no FCALL (Redis < 7); using EVALSHA from now on");
}

void RateLimitRuntime::noteFallback(uint32_t ns_slot, ThrottleFallback mode,
                                    std::string_view cause) {
  stats_.countFallback(ns_slot, mode);
  if (!outage_.load(std::memory_order_relaxed) && !outage_.exchange(true)) {
    KW_LOG_WARN("CL.THROTTLE: Redis unavailable (%.*s); answering from this process "
                "(rate_limit_fallback, first call: %s) until it is back",
                static_cast<int>(cause.size()), cause.data(), modeName(mode));
  }
}

void RateLimitRuntime::endOutage() {
  if (outage_.exchange(false))
    KW_LOG_WARN("CL.THROTTLE: Redis answers again; limits are shared again");
}

}  // namespace kw

// Rate-limit configuration (plain data), read by ratelimit_config_loader.cc:
//
//   [rate_limit]                          local_max_keys, redis_script
//   [limits] per_client_rate_limit        = { rate = N, period_s = P, burst = B }
//   [[namespaces]] rate_limit             = { ... }  and  rate_limit_fallback = "local"
//   [[users]] rate_limit                  = { ... }
//
// A protective limit admits `burst` requests at once (default: `rate`), then `rate` per
// `period_s` seconds. It is enforced in the memory of each keywarden: N instances together
// admit N times the rate.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kw {

struct RateLimitSpec {
  uint64_t rate = 0;  // 0: no limit
  uint64_t period_s = 1;
  uint64_t burst = 0;  // >= 1 when rate > 0
  bool enabled() const { return rate != 0; }
};

// What CL.THROTTLE answers for a namespace's keys while Redis cannot be reached.
enum class ThrottleFallback : uint8_t {
  kLocal,  // the same GCRA in this process's memory
  kAllow,  // never limited
  kDeny,   // always limited
};

// How CL.THROTTLE reaches Redis: a function library (Redis 7) or a script (EVALSHA). "auto"
// starts with the function and switches to the script for good when Redis does not know FCALL.
enum class ThrottleRedisForm : uint8_t { kAuto, kFunction, kScript };

struct RateLimitConfig {
  // Per [[namespaces]] entry, in the same order (the namespace id).
  std::vector<RateLimitSpec> namespace_limits;
  std::vector<ThrottleFallback> namespace_fallback;
  std::vector<std::pair<std::string, RateLimitSpec>> user_limits;  // [[users]] that set one
  RateLimitSpec per_client;
  uint32_t local_max_keys = 100000;  // CL.THROTTLE fallback keys and client addresses kept
  ThrottleRedisForm redis_form = ThrottleRedisForm::kAuto;

  bool protective = false;  // any limit above is set: the request path checks limits
  uint64_t id = 0;          // unique per loaded file: limiter state is bound once per id

  ThrottleFallback fallbackFor(uint32_t ns) const {
    return ns < namespace_fallback.size() ? namespace_fallback[ns] : ThrottleFallback::kLocal;
  }
};

}  // namespace kw

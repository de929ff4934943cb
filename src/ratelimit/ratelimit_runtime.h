// Everything the rate limiters share between worker threads, in one place (it lives in
// SharedState): the CL.THROTTLE fallback table, the protective limiters' registry, the
// counters, how CL.THROTTLE reaches Redis, and whether Redis is being missed right now.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "common/ratelimit_config.h"
#include "ratelimit/expiring_table.h"
#include "ratelimit/protective_limits.h"
#include "ratelimit/ratelimit_stats.h"
#include "ratelimit/throttle_lua.h"

namespace kw {

class RateLimitRuntime {
public:
  ExpiringTable& throttleTable() { return throttle_table_; }
  LimiterRegistry& limiters() { return limiters_; }
  RateLimitStats& stats() { return stats_; }
  const RateLimitStats& stats() const { return stats_; }

  // How CL.THROTTLE is sent now, given the configured choice.
  ThrottleCallForm callForm(ThrottleRedisForm configured) const {
    switch (configured) {
    case ThrottleRedisForm::kFunction:
      return ThrottleCallForm::kFunction;
    case ThrottleRedisForm::kScript:
      return ThrottleCallForm::kScript;
    case ThrottleRedisForm::kAuto:
      break;
    }
    return no_functions_.load(std::memory_order_relaxed) ? ThrottleCallForm::kScript
                                                         : ThrottleCallForm::kFunction;
  }
  // The upstream does not know FCALL (Redis < 7): "auto" uses scripts from now on.
  void noFunctions();

  // A CL.THROTTLE answered without Redis: counted; logged at the first of an outage.
  void noteFallback(uint32_t ns_slot, ThrottleFallback mode, std::string_view cause);
  // Redis answered a CL.THROTTLE: the end of an outage is logged once.
  void noteShared() {
    if (outage_.load(std::memory_order_relaxed))
      endOutage();
  }
  bool inOutage() const { return outage_.load(std::memory_order_relaxed); }

private:
  void endOutage();

  ExpiringTable throttle_table_;
  LimiterRegistry limiters_;
  RateLimitStats stats_;
  std::atomic<bool> no_functions_{false};
  std::atomic<bool> outage_{false};
};

}  // namespace kw

// Counters of the rate limiters, process-wide. Only rare events are counted here (refusals,
// fallback answers, code reloads), so plain relaxed atomics shared by the workers cost nothing
// on the request path; refusals per user and per namespace live in each limiter's GcraCell.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/ratelimit_config.h"
#include "proxy/metrics/request_metrics.h"  // namespace label slots

namespace kw {

inline constexpr size_t kThrottleFallbackModes = 3;  // ThrottleFallback values

struct RateLimitStats {
  // CL.THROTTLE answered without Redis: [namespace slot][ThrottleFallback].
  std::atomic<uint64_t> throttle_fallback[kNamespaceSlots][kThrottleFallbackModes] = {};
  // FUNCTION LOAD / SCRIPT LOAD sent because Redis did not have the code (flush, restart).
  std::atomic<uint64_t> code_loads{0};
  // Refused by the per-client-address limit (addresses are never metric labels).
  std::atomic<uint64_t> refused_client{0};

  void countFallback(uint32_t ns_slot, ThrottleFallback mode) {
    const uint32_t slot = ns_slot < kNamespaceSlots ? ns_slot : kOtherNamespace;
    throttle_fallback[slot][static_cast<size_t>(mode)].fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace kw

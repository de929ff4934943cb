#include "policy/auth_throttle.h"

#include <limits>

#include "ratelimit/gcra_cell.h"

namespace kw {
namespace {

constexpr int64_t kBlocked = std::numeric_limits<int64_t>::max();

GcraRate failureRate(const AuthThrottle::Limits& limits) {
  return GcraRate::perPeriod(limits.max_failures, uint64_t{limits.window_s} * 1000,
                             limits.max_failures);
}

}  // namespace

std::string_view hostOf(std::string_view addr) {
  size_t colon = addr.rfind(':');
  return colon == std::string_view::npos ? addr : addr.substr(0, colon);
}

bool AuthThrottle::allowed(std::string_view address, int64_t now_ms, const Limits& limits) {
  if (limits.max_failures == 0)
    return true;
  ExpiringTable::Slot slot;
  if (!failures_.peek(address, now_ms, &slot))
    return true;
  // Blocked, or (block_s = 0) the failure limit itself has no room left.
  return slot.value != kBlocked && gcraDecide(failureRate(limits), slot.value, now_ms).allowed;
}

void AuthThrottle::recordFailure(std::string_view address, int64_t now_ms, const Limits& limits) {
  if (limits.max_failures == 0)
    return;
  const GcraRate rate = failureRate(limits);
  failures_.access(address, now_ms, [&](ExpiringTable::Slot& slot) {
    if (slot.present && slot.value == kBlocked)
      return 0;
    const GcraDecision d = gcraDecide(rate, slot.present ? slot.value : 0, now_ms);
    if (!d.allowed)  // no room left (block_s = 0): the state stays as it is
      return 0;
    slot.present = true;
    if (limits.block_s > 0 && !gcraDecide(rate, d.tat, now_ms).allowed) {
      // The last failure allowed: blocked for block_s (alive while now <= expires_at), then the
      // entry is gone and the address starts afresh.
      slot.value = kBlocked;
      slot.expires_at = now_ms + static_cast<int64_t>(limits.block_s) * 1000 - 1;
    } else {
      slot.value = d.tat;
      slot.expires_at = d.tat;  // once the TAT has passed, the address has a clean slate
    }
    return 0;
  });
}

void AuthThrottle::recordSuccess(std::string_view address) {
  // Only reachable while allowed() said yes, so this never lifts a block.
  failures_.access(address, 0, [](ExpiringTable::Slot& slot) {
    slot.present = false;
    return 0;
  });
}

}  // namespace kw

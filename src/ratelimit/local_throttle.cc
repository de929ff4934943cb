#include "ratelimit/local_throttle.h"

#include <limits>
#include <optional>

namespace kw {

bool throttleLocally(ExpiringTable& table, std::string_view key, const ThrottleParams& p,
                     int64_t now_ns, ThrottleReply* reply, std::string* error) {
  return table.access(key, now_ns, [&](ExpiringTable::Slot& slot) {
    std::optional<uint64_t> tat;
    if (slot.present)
      tat = static_cast<uint64_t>(slot.value);  // stored bit for bit
    ThrottleWrite w;
    if (!decideThrottle(p, tat, now_ns, reply, &w, error))
      return false;
    if (w.kind == ThrottleWrite::Kind::kSet) {
      slot.present = true;
      slot.value = static_cast<int64_t>(w.tat_ns);
      const int64_t ttl_ns = w.ttl_ms * 1'000'000;  // ttl_ms < 9e12: no overflow
      int64_t expires;
      slot.expires_at = __builtin_add_overflow(now_ns, ttl_ns, &expires)
                            ? std::numeric_limits<int64_t>::max()
                            : expires;
    } else if (w.kind == ThrottleWrite::Kind::kDelete) {
      slot.present = false;
    }
    return true;
  });
}

ThrottleReply throttleAllowAll(const ThrottleParams& p, int64_t now_ns) {
  ThrottleReply r;
  ThrottleWrite w;
  std::string unused;
  if (decideThrottle(p, std::nullopt, now_ns, &r, &w, &unused)) {
    r.limited = false;
    r.retry_after_s = -1;
  } else {
    r = ThrottleReply{};
    r.limit = p.limit;
  }
  return r;
}

ThrottleReply throttleDenyAll(const ThrottleParams& p, int64_t now_ns) {
  ThrottleReply r;
  ThrottleWrite w;
  std::string unused;
  // An empty limiter: the TAT a full tolerance ahead.
  const auto tat = static_cast<uint64_t>(now_ns) + static_cast<uint64_t>(p.tolerance_ns);
  if (p.tolerance_ns < 0 || !decideThrottle(p, tat, now_ns, &r, &w, &unused)) {
    r = ThrottleReply{};
    r.limit = p.limit;
  }
  r.limited = true;
  return r;
}

}  // namespace kw

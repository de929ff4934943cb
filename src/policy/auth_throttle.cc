#include "policy/auth_throttle.h"

#include <functional>

namespace kw {

std::string_view hostOf(std::string_view addr) {
  size_t colon = addr.rfind(':');
  return colon == std::string_view::npos ? addr : addr.substr(0, colon);
}

AuthThrottle::Stripe& AuthThrottle::stripe(std::string_view address) {
  return stripes_[std::hash<std::string_view>()(address) % kStripes];
}

bool AuthThrottle::allowed(std::string_view address, int64_t now_ms, const Limits&) {
  Stripe& s = stripe(address);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.entries.find(std::string(address));
  return it == s.entries.end() || it->second.blocked_until_ms <= now_ms;
}

void AuthThrottle::recordFailure(std::string_view address, int64_t now_ms, const Limits& limits) {
  if (limits.max_failures == 0)
    return;
  Stripe& s = stripe(address);
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.entries.size() >= kMaxEntriesPerStripe) {
    // Forget entries whose window and block are over; if none are, forget everything: losing
    // a count is better than unbounded memory.
    for (auto it = s.entries.begin(); it != s.entries.end();) {
      const Entry& e = it->second;
      if (e.blocked_until_ms <= now_ms &&
          now_ms - e.window_start_ms > static_cast<int64_t>(limits.window_s) * 1000)
        it = s.entries.erase(it);
      else
        ++it;
    }
    if (s.entries.size() >= kMaxEntriesPerStripe)
      s.entries.clear();
  }
  Entry& e = s.entries[std::string(address)];
  if (now_ms - e.window_start_ms > static_cast<int64_t>(limits.window_s) * 1000) {
    e.window_start_ms = now_ms;
    e.failures = 0;
  }
  if (++e.failures >= limits.max_failures) {
    e.blocked_until_ms = now_ms + static_cast<int64_t>(limits.block_s) * 1000;
    e.failures = 0;
    e.window_start_ms = now_ms;
  }
}

void AuthThrottle::recordSuccess(std::string_view address) {
  Stripe& s = stripe(address);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.entries.find(std::string(address));
  if (it != s.entries.end() && it->second.blocked_until_ms == 0)
    s.entries.erase(it);
}

}  // namespace kw

#include "common/log_limiter.h"

namespace kw {

bool LogLimiter::allow(std::string_view key, uint64_t now_ms, uint64_t* suppressed) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) {
    if (entries_.size() >= max_keys_)
      forgetOld(now_ms);
    if (entries_.size() >= max_keys_)
      return false;
    entries_.emplace(std::string(key), Entry{now_ms, 0});
    *suppressed = 0;
    return true;
  }
  Entry& e = it->second;
  if (now_ms - e.last_ms < interval_ms_) {
    ++e.suppressed;
    return false;
  }
  *suppressed = e.suppressed;
  e = Entry{now_ms, 0};
  return true;
}

void LogLimiter::forgetOld(uint64_t now_ms) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (now_ms - it->second.last_ms >= interval_ms_)
      it = entries_.erase(it);
    else
      ++it;
  }
}

}  // namespace kw

#include "ratelimit/expiring_table.h"

namespace kw {
namespace {

constexpr int kEvictionSamples = 8;

}  // namespace

void ExpiringTable::makeRoom(Stripe& s, int64_t now) {
  const size_t max = per_stripe_max_.load(std::memory_order_relaxed);
  if (s.map.size() < max)
    return;
  // A full sweep costs the stripe's size; done once per max/4 inserts into a full stripe it
  // costs a few entries per insert.
  if (++s.full_inserts > max / 4) {
    s.full_inserts = 0;
    for (auto it = s.map.begin(); it != s.map.end();) {
      if (now > it->second.expires_at)
        it = s.map.erase(it);
      else
        ++it;
    }
  }
  // Still full: evict what would expire soonest among a few entries. The map's iteration
  // order is its bucket order, which has nothing to do with insertion or expiry.
  while (s.map.size() >= max) {
    auto victim = s.map.begin();
    int n = 0;
    for (auto it = s.map.begin(); it != s.map.end() && n < kEvictionSamples; ++it, ++n) {
      if (it->second.expires_at < victim->second.expires_at)
        victim = it;
    }
    s.map.erase(victim);
  }
}

size_t ExpiringTable::size() {
  size_t n = 0;
  for (Stripe& s : stripes_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.map.size();
  }
  return n;
}

}  // namespace kw

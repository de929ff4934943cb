// A bounded map from a string key to one int64 value with an expiry, shared by every worker
// thread: the in-memory store of the rate limiters that live in the proxy (CL.THROTTLE's
// fallback while Redis is down, the AUTH failure throttle). Striped: a key's stripe is fixed
// by its hash and each stripe has its own mutex, so workers rarely wait on each other.
//
// Bounded: each stripe keeps at most max_keys / kStripes entries. A full stripe now and then
// drops its expired entries (expired entries are also dropped when their key is touched); while
// still full it evicts the entry that expires soonest among a few sampled ones (Redis's
// volatile-ttl eviction), so an address-spraying client costs memory only up to the bound.
//
// Time is the caller's (any monotonic unit: ns, ms): nothing here reads a clock, so tests
// drive it. An entry is alive while now <= expires_at, as a Redis key is.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kw {

class ExpiringTable {
public:
  // What an access sees and leaves behind.
  struct Slot {
    bool present = false;    // in: an alive entry exists. out: keep (or create) the entry
    int64_t value = 0;       // in/out
    int64_t expires_at = 0;  // in/out
  };

  explicit ExpiringTable(size_t max_keys = 100000) { setMaxKeys(max_keys); }

  // The bound may change at any time (a reload); stripes above it shrink on their next insert.
  void setMaxKeys(size_t max_keys) {
    const size_t per = max_keys / kStripes;
    per_stripe_max_.store(per > 0 ? per : 1, std::memory_order_relaxed);
  }

  // Runs fn(Slot&) on `key` under its stripe's lock and stores what fn leaves: present = false
  // removes the entry. Returns fn's result. fn must not touch the table.
  template <typename Fn> auto access(std::string_view key, int64_t now, Fn&& fn) {
    Stripe& s = stripeOf(key);
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.map.find(key);
    Slot slot;
    if (it != s.map.end() && now <= it->second.expires_at) {
      slot.present = true;
      slot.value = it->second.value;
      slot.expires_at = it->second.expires_at;
    }
    auto result = fn(slot);
    if (!slot.present) {
      if (it != s.map.end())
        s.map.erase(it);
    } else if (it != s.map.end()) {
      it->second = {slot.value, slot.expires_at};
    } else {
      makeRoom(s, now);
      s.map.emplace(std::string(key), Entry{slot.value, slot.expires_at});
    }
    return result;
  }

  // The alive entry for `key`, without changing anything.
  bool peek(std::string_view key, int64_t now, Slot* out) {
    return access(key, now, [out](Slot& slot) {
      *out = slot;
      return slot.present;
    });
  }

  // Entries held now, alive or not yet swept.
  size_t size();

  static constexpr size_t kStripes = 64;

private:
  struct Entry {
    int64_t value;
    int64_t expires_at;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  struct alignas(64) Stripe {
    std::mutex mu;
    std::unordered_map<std::string, Entry, Hash, std::equal_to<>> map;
    size_t full_inserts = 0;  // inserts into a full stripe since its last sweep
  };

  Stripe& stripeOf(std::string_view key) {
    // The stripe takes the high bits: the map inside uses the low ones.
    return stripes_[(Hash()(key) >> 32) % kStripes];
  }
  void makeRoom(Stripe& s, int64_t now);

  std::atomic<size_t> per_stripe_max_{1};
  Stripe stripes_[kStripes];
};

}  // namespace kw

// Slows down password guessing: after `max_failures` failed AUTHs from one client address within
// `window_s`, AUTH from that address is refused for `block_s`. Shared by all workers (a client
// may reconnect onto another one), striped so workers rarely contend; only AUTH touches it.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kw {

class AuthThrottle {
public:
  struct Limits {
    uint32_t max_failures = 5;
    uint32_t window_s = 60;
    uint32_t block_s = 30;
  };

  // True if `address` may try to authenticate now.
  bool allowed(std::string_view address, int64_t now_ms, const Limits& limits);
  void recordFailure(std::string_view address, int64_t now_ms, const Limits& limits);
  void recordSuccess(std::string_view address);

private:
  struct Entry {
    uint32_t failures = 0;
    int64_t window_start_ms = 0;
    int64_t blocked_until_ms = 0;
  };
  struct Stripe {
    std::mutex mu;
    std::unordered_map<std::string, Entry> entries;
  };
  static constexpr size_t kStripes = 16;
  static constexpr size_t kMaxEntriesPerStripe = 4096;  // bounded memory under address spraying

  Stripe& stripe(std::string_view address);
  Stripe stripes_[kStripes];
};

// "10.0.0.1:5555" -> "10.0.0.1": failures are counted per host, not per connection.
std::string_view hostOf(std::string_view addr);

}  // namespace kw

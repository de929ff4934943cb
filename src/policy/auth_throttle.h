// Slows down password guessing, with the rate limiter's GCRA and table (src/ratelimit/): an
// address's failed AUTHs are a limit of `max_failures` per `window_s` (all at once, then one
// more every window_s / max_failures); the failure that uses up the last one blocks AUTH from
// that address for `block_s`, after which it starts afresh. Shared by all workers (a client may
// reconnect onto another one) in a bounded, striped, expiring table; only AUTH touches it.
#pragma once

#include <cstdint>
#include <string_view>

#include "ratelimit/expiring_table.h"

namespace kw {

class AuthThrottle {
public:
  struct Limits {
    uint32_t max_failures = 5;  // 0: never throttle
    uint32_t window_s = 60;
    uint32_t block_s = 30;
  };

  // True if `address` may try to authenticate now.
  bool allowed(std::string_view address, int64_t now_ms, const Limits& limits);
  void recordFailure(std::string_view address, int64_t now_ms, const Limits& limits);
  // A success forgets the address's failures.
  void recordSuccess(std::string_view address);

private:
  static constexpr size_t kMaxAddresses = 65536;  // bounded memory under address spraying
  // address -> the failures' TAT (ms), or kBlocked until the entry expires.
  ExpiringTable failures_{kMaxAddresses};
};

// "10.0.0.1:5555" -> "10.0.0.1": failures are counted per host, not per connection.
std::string_view hostOf(std::string_view addr);

}  // namespace kw

// CL.THROTTLE as redis-cell 0.4+ answers it (brandur/redis-cell, src/lib.rs and src/cell/mod.rs),
// as pure functions: argument parsing with its error texts, the GCRA decision for a stored
// theoretical arrival time (TAT) and a clock, and the reply. The Redis-side Lua
// (throttle_lua.cc) computes exactly the same thing with Redis's clock; the local fallback
// (local_throttle.h) runs this code on keywarden's clock. Tests: tests/unit/cell_throttle_test.cc
// (redis-cell's own reference table) and tests/integration/ratelimit.test.js (the Lua against
// this code, through tools/gcra_model).
//
// The algorithm, with E the emission interval (period / count, in ns, computed in floating
// point and truncated as redis-cell does), tolerance T = E * (max_burst + 1), increment
// I = E * quantity, and everything relative to now:
//   tat     = stored TAT - now, or 0 when the key does not exist
//   new_tat = max(tat, 0) + I
//   allowed iff T - new_tat >= 0; then the key gets now + new_tat with a TTL of new_tat
//   limited: nothing is written; retry_after = new_tat - T (or -1 s when I > T: never)
//   ttl = new_tat when allowed, tat when limited; reset_after = ttl
//   remaining = trunc(us(T - ttl) / us(E)) when T - ttl > -E, else 0 (us: truncated to
//   microseconds, the division in doubles, saturating to int64 as Rust's `as` does)
//   seconds in the reply: Rust's as_seconds_f64() truncated, plus 1 when the sub-second part
//   has a millisecond (a remainder under 1 ms does not round up, as in 0.4).
//
// Where redis-cell's own arithmetic would overflow (it wraps int64 or panics and takes Redis
// down) keywarden answers an error instead: every duration must stay strictly within
// +-9e18 ns (~285 years), and the period within 2^53 s. Inside that range the answers are
// redis-cell's, bit for bit.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kw {

inline constexpr int64_t kThrottleRangeNs = 9'000'000'000'000'000'000;

// The arguments of one CL.THROTTLE, parsed as redis-cell parses them.
struct ThrottleRequest {
  std::string_view key;
  int64_t max_burst = 0;
  int64_t count = 0;
  int64_t period_s = 0;
  int64_t quantity = 1;
};

// redis-cell's RateLimiter for one request.
struct ThrottleParams {
  int64_t limit = 0;         // max_burst + 1
  int64_t emission_ns = 0;   // period / count
  int64_t tolerance_ns = 0;  // delay variation tolerance: emission * (max_burst + 1)
  int64_t increment_ns = 0;  // emission * quantity
};

// The five integers of the reply, and the two durations before rounding (redis-cell's
// RateLimitResult, which its own unit tests check).
struct ThrottleReply {
  bool limited = false;
  int64_t limit = 0;
  int64_t remaining = 0;
  int64_t retry_after_s = -1;
  int64_t reset_after_s = 0;
  int64_t retry_after_ns = -1'000'000'000;  // -1 s: allowed, or can never be allowed
  int64_t reset_after_ns = 0;
};

// What the decision does to the stored key.
struct ThrottleWrite {
  enum class Kind : uint8_t { kNone, kSet, kDelete };
  Kind kind = Kind::kNone;
  uint64_t tat_ns = 0;  // kSet: the new TAT, ns since the Unix epoch
  int64_t ttl_ms = 0;   // kSet: > 0. kDelete: the TTL would be 0 ms, so the key expires at once
};

// args[0] is the command name. On false, *error is the error reply without its leading '-'
// ("Cell error: Store error: Couldn't parse as integer: x"), CR/LF replaced as Redis does.
bool parseThrottle(std::span<const std::string_view> args, ThrottleRequest* out,
                   std::string* error);

// The parameters, or the zero-rate / out-of-range error.
bool throttleParams(const ThrottleRequest& req, ThrottleParams* out, std::string* error);

// A stored TAT read as redis-cell reads it (Rust's u64 parsing); on false, *error holds the
// error reply ("Cell error: invalid digit found in string").
bool parseStoredTat(std::string_view text, uint64_t* out, std::string* error);

// One decision at `now_ns` (ns since the Unix epoch) for a key holding `tat_ns` (nullopt: no
// such key). On false nothing may be written and *error holds the error reply.
bool decideThrottle(const ThrottleParams& p, std::optional<uint64_t> tat_ns, int64_t now_ns,
                    ThrottleReply* reply, ThrottleWrite* write, std::string* error);

// "*5\r\n:<limited>\r\n:<limit>\r\n:<remaining>\r\n:<retry>\r\n:<reset>\r\n"
void appendThrottleReply(std::string* out, const ThrottleReply& r);

// The error texts, defined once.
inline constexpr std::string_view kThrottleUsageError =
    "Cell error: Store error: Usage: cl.throttle <key> <max_burst> <count per period> <period> "
    "[<quantity>]";
inline constexpr std::string_view kThrottleZeroRateError =
    "Cell error: Store error: Zero rates are not supported";
inline constexpr std::string_view kThrottleExpireError =
    "Cell error: Store error: Error while setting key expire";
inline constexpr std::string_view kThrottleRangeError =
    "Cell error: Store error: Arguments out of range (durations must stay within 9e18 ns, the "
    "period within 2^53 s)";

}  // namespace kw

// The Lua the budget enforcer runs in Redis. Sent with EVAL every time (Redis caches a script
// by its SHA1, so a repeat costs a hash of these few hundred bytes and no NOSCRIPT handling).
// Each reads or deletes only the keys it is given, declared as KEYS.
#pragma once

#include <string_view>

namespace kw::budget_lua {

// MEMORY USAGE of each key (-1: no such key). MEMORY USAGE finds the key without touching its
// access clock.
inline constexpr std::string_view kMeasure =
    "local r = {}\n"
    "for i = 1, #KEYS do r[i] = redis.call('MEMORY', 'USAGE', KEYS[i]) or -1 end\n"
    "return r\n";

// OBJECT IDLETIME (seconds) or OBJECT FREQ (ARGV[1]) of each key (-1: no such key). OBJECT does
// not touch the access clock it reads.
inline constexpr std::string_view kAccessClock =
    "local r = {}\n"
    "for i = 1, #KEYS do r[i] = redis.call('OBJECT', ARGV[1], KEYS[i]) or -1 end\n"
    "return r\n";

// KEYS[1] is the lease, ARGV[1] the caller's lease value: the victims KEYS[2..] are UNLINKed only
// while the caller still holds the lease (-1 otherwise), so a holder that lost the lease without
// knowing it cannot evict next to the new one. Returns UNLINK's answer per victim.
inline constexpr std::string_view kEvict =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end\n"
    "local r = {}\n"
    "for i = 2, #KEYS do r[i - 1] = redis.call('UNLINK', KEYS[i]) end\n"
    "return r\n";

// A cluster's share of an eviction (budget_link.cc): UNLINK each of KEYS, every answer. The
// lease (in a slot of its own) was checked just before, so this part is not atomic with it.
inline constexpr std::string_view kUnlinkEach =
    "local r = {}\n"
    "for i = 1, #KEYS do r[i] = redis.call('UNLINK', KEYS[i]) end\n"
    "return r\n";

// Lease renewal: PEXPIRE KEYS[1] ARGV[2] while it holds ARGV[1]; 0 otherwise.
inline constexpr std::string_view kRenew = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                           "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                                           "end\n"
                                           "return 0\n";

// Lease release: DEL KEYS[1] while it holds ARGV[1].
inline constexpr std::string_view kRelease =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

}  // namespace kw::budget_lua

#include "ratelimit/throttle_lua.h"

#include <charconv>

#include "proxy/resp_writer.h"
#include "ratelimit/sha1.h"

namespace kw {
namespace {

// The algorithm, step for step the same as decideThrottle() in cell_throttle.cc; keep them
// in step (tests/integration/ratelimit.test.js runs both on the same clock and compares).
// Lua numbers are doubles, exact for integers below 2^53 ns (104 days). Two paths:
// - throttle(): plain numbers, taken when every argument has at most 15 digits and every
//   duration stays below 2^51 ns (26 days), so no sum or difference leaves the exact range;
//   no table is built but TIME's reply and the result (Redis's Lua allocations cost more than
//   the arithmetic);
// - throttle_exact(): everything else. Nanosecond quantities are pairs {s, n} meaning
//   s * 1e9 + n with 0 <= n < 1e9 (s may be negative), exact while |s| < 2^53; products are
//   split so that no partial product exceeds 2^53.
constexpr std::string_view kCore = R"lua(
local NS = 1000000000
local RANGE_S = 9000000000 -- every duration strictly within +-9e18 ns
local TWO53 = {9007199, 254740992}
local ZERO, ONE = {0, 0}, {0, 1}
local E_USAGE = 'Cell error: Store error: Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]'
local E_ZERO = 'Cell error: Store error: Zero rates are not supported'
local E_RANGE = 'Cell error: Store error: Arguments out of range (durations must stay within 9e18 ns, the period within 2^53 s)'
local E_EXPIRE = 'Cell error: Store error: Error while setting key expire'

local function norm(s, n)
  if n >= NS then return {s + 1, n - NS} end
  if n < 0 then return {s - 1, n + NS} end
  return {s, n}
end
local function add(a, b) return norm(a[1] + b[1], a[2] + b[2]) end
local function sub(a, b) return norm(a[1] - b[1], a[2] - b[2]) end
local function neg(a) return norm(0 - a[1], 0 - a[2]) end
local function lt(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end
local function iszero(a) return a[1] == 0 and a[2] == 0 end
local function abs(a) if a[1] < 0 then return neg(a) end return a end
local function inrange(a)
  return a[1] < RANGE_S and (a[1] > -RANGE_S or (a[1] == -RANGE_S and a[2] > 0))
end

-- |a * b| for pairs, nil when out of range.
local function mulabs(x, y)
  if x[1] * y[1] >= 9 then return nil end
  local mid = x[1] * y[2] + x[2] * y[1]
  if mid >= RANGE_S then return nil end
  local a1, a0 = math.floor(x[2] / 100000), x[2] % 100000
  local b1, b0 = math.floor(y[2] / 100000), y[2] % 100000
  local s = x[1] * y[1] * NS + mid + a1 * b1 * 10
  local n = (a1 * b0 + a0 * b1) * 100000 + a0 * b0
  local carry = math.floor(n / NS)
  local r = {s + carry, n - carry * NS}
  if r[1] >= RANGE_S then return nil end
  return r
end
local function mul(a, b)
  local r = mulabs(abs(a), abs(b))
  if r and (a[1] < 0) ~= (b[1] < 0) then r = neg(r) end
  return r
end

-- An integral double, |x| < 9e18.
local function from_double(x)
  local n = math.fmod(x, NS)
  return norm(math.floor((x - n) / NS + 0.5), n)
end

-- a / unit truncated toward zero, as a double (exact: |a| < 9e18, unit 1e3 or 1e6).
local function trunc_div(a, unit)
  if a[1] < 0 then
    local v = trunc_div(neg(a), unit)
    if v == 0 then return 0 end
    return 0 - v
  end
  return a[1] * (NS / unit) + math.floor(a[2] / unit)
end

local function decimal(a)
  if a[1] < 0 then return '-' .. decimal(neg(a)) end
  if a[1] == 0 then return string.format('%d', a[2]) end
  return string.format('%d%09d', a[1], a[2])
end

-- A reply integer: a number while doubles hold it exactly, else a bulk string.
local function reply_int(a)
  if lt(abs(a), TWO53) then return a[1] * NS + a[2] end
  return decimal(a)
end

-- Rust's `f as i64` for |f| < 2^63 or +-inf or NaN.
local function f64_to_i64(f)
  if f ~= f then return 0 end
  if f >= 9223372036854775807 then return '9223372036854775807' end
  if f <= -9223372036854775808 then return '-9223372036854775808' end
  if f >= 0 then return math.floor(f) end
  local v = math.ceil(f)
  if v == 0 then return 0 end
  return v
end

-- redis-cell's reply seconds: as_seconds_f64() truncated, +1 for a millisecond remainder.
local function seconds(a)
  local secs, nanos = a[1], a[2]
  if secs < 0 and nanos > 0 then secs, nanos = secs + 1, nanos - NS end
  local f = secs + nanos / NS
  local r
  if f >= 0 then r = math.floor(f) else r = math.ceil(f) end
  local ms
  if nanos >= 0 then ms = math.floor(nanos / 1000000) else ms = math.ceil(nanos / 1000000) end
  if ms > 0 then r = r + 1 end
  if r == 0 then return 0 end
  return r
end

-- Rust's i64::from_str; nil when it fails.
local function parse_i64(str)
  local sign, digits = string.match(str, '^([+-]?)([0-9]+)$')
  if not digits then return nil end
  digits = string.match(digits, '^0*(.*)$')
  if #digits > 19 then return nil end
  local hi = tonumber(string.sub(digits, 1, -10)) or 0
  local lo = tonumber(string.sub(digits, -9)) or 0
  local max_lo = 854775807
  if sign == '-' then max_lo = 854775808 end
  if hi > 9223372036 or (hi == 9223372036 and lo > max_lo) then return nil end
  if sign == '-' then return neg({hi, lo}) end
  return {hi, lo}
end

-- Rust's u64::from_str (how redis-cell reads the stored TAT): the pair, or nil and the error.
local function parse_u64(str)
  if str == '' then return nil, 'Cell error: cannot parse integer from empty string' end
  local body = str
  if string.sub(str, 1, 1) == '+' then body = string.sub(str, 2) end
  local digits = string.match(body, '^[0-9]*')
  local v = string.match(digits, '^0*(.*)$')
  local hi = tonumber(string.sub(v, 1, -10)) or 0
  local lo = tonumber(string.sub(v, -9)) or 0
  if #v > 20 or hi > 18446744073 or (hi == 18446744073 and lo > 709551615) then
    return nil, 'Cell error: number too large to fit in target type'
  end
  if body == '' or #digits < #body then return nil, 'Cell error: invalid digit found in string' end
  return {hi, lo}
end

local function throttle_exact(keys, args, clock)
  if #keys ~= 1 or (#args ~= 3 and #args ~= 4) then return redis.error_reply(E_USAGE) end
  local key = keys[1]
  local v = {}
  for i = 1, #args do
    v[i] = parse_i64(args[i])
    if not v[i] then
      return redis.error_reply('Cell error: Store error: Couldn\'t parse as integer: ' .. args[i])
    end
  end
  local burst, count, period, quantity = v[1], v[2], v[3], v[4] or ONE
  if iszero(count) or iszero(period) then return redis.error_reply(E_ZERO) end
  if not lt(abs(period), TWO53) then return redis.error_reply(E_RANGE) end
  local q = (period[1] * NS + period[2]) * 1e9 / tonumber(args[2])
  if not (math.abs(q) < 9e18) then return redis.error_reply(E_RANGE) end
  local ef
  if q >= 0 then ef = math.floor(q) else ef = math.ceil(q) end
  if ef == 0 then return redis.error_reply(E_ZERO) end
  local emission = from_double(ef)
  local limit = add(burst, ONE)
  local tolerance = mul(emission, limit)
  local increment = mul(emission, quantity)
  if not tolerance or not increment then return redis.error_reply(E_RANGE) end

  local now_s, now_ns = clock()
  local now = {now_s, now_ns}
  local stored = redis.pcall('GET', key)
  if type(stored) == 'table' then return stored end -- WRONGTYPE
  local tat = ZERO
  if stored then
    local t, err = parse_u64(stored)
    if not t then return redis.error_reply(err) end
    tat = sub(t, now)
  end
  local base = ZERO
  if lt(ZERO, tat) then base = tat end
  local new_tat = add(base, increment)
  local diff = sub(tolerance, new_tat)
  local limited = lt(diff, ZERO)
  local ttl = new_tat
  if limited then ttl = tat end
  local next = sub(tolerance, ttl)
  if not (inrange(tat) and inrange(new_tat) and inrange(diff) and inrange(next)) then
    return redis.error_reply(E_RANGE)
  end
  local ttl_ms = 0
  if not limited then
    ttl_ms = trunc_div(ttl, 1000000)
    if ttl_ms < 0 then return redis.error_reply(E_EXPIRE) end
  end
  local remaining = 0
  if lt(neg(emission), next) then
    local eu, nu = trunc_div(emission, 1000), trunc_div(next, 1000)
    if eu ~= 0 then
      remaining = f64_to_i64(nu / eu)
    elseif nu > 0 then
      remaining = '9223372036854775807'
    elseif nu < 0 then
      remaining = '-9223372036854775808'
    end
  end
  local retry = {-1, 0}
  if limited and not lt(tolerance, increment) then retry = neg(diff) end
  if not limited then
    if ttl_ms == 0 then
      redis.call('DEL', key)
    else
      redis.call('SET', key, decimal(add(now, new_tat)), 'PX', string.format('%d', ttl_ms))
    end
  end
  local l = 0
  if limited then l = 1 end
  return {l, reply_int(limit), remaining, seconds(retry), seconds(ttl)}
end

-- The fast path's helpers. Every value is an integer below 2^53 in magnitude.
local FAST = 2251799813685248 -- 2^51

-- Rust's i64 syntax with at most 15 digits: the number (exact), else nil.
local function small_int(s)
  local n, b = #s, string.byte(s, 1)
  local most = 15
  if b == 43 or b == 45 then most = 16 end
  if n == 0 or n > most or not string.find(s, '^[+-]?%d+$') then return nil end
  local v = tonumber(s)
  if v == 0 then return 0 end -- not -0
  return v
end

-- x / unit truncated toward zero, exactly.
local function tdiv(x, unit)
  return (x - math.fmod(x, unit)) / unit
end

local function fast_seconds(x)
  local nanos = math.fmod(x, NS)
  local f = tdiv(x, NS) + nanos / NS
  local r
  if f >= 0 then r = math.floor(f) else r = math.ceil(f) end
  if nanos >= 1000000 then r = r + 1 end
  return r
end

local function throttle(keys, args, clock)
  if #keys ~= 1 or (#args ~= 3 and #args ~= 4) then return redis.error_reply(E_USAGE) end
  local burst, count, period, quantity = small_int(args[1]), small_int(args[2]), small_int(args[3]), 1
  if args[4] then quantity = small_int(args[4]) end
  if not (burst and count and period and quantity) then return throttle_exact(keys, args, clock) end
  if count == 0 or period == 0 then return redis.error_reply(E_ZERO) end
  local q = period * 1e9 / count
  if not (math.abs(q) < FAST) then return throttle_exact(keys, args, clock) end
  local emission
  if q >= 0 then emission = math.floor(q) else emission = math.ceil(q) end
  if emission == 0 then return redis.error_reply(E_ZERO) end
  local limit = burst + 1
  local tolerance, increment = emission * limit, emission * quantity
  if not (math.abs(tolerance) < FAST and math.abs(increment) < FAST) then
    return throttle_exact(keys, args, clock)
  end

  local key = keys[1]
  local now_s, now_ns = clock()
  local stored = redis.pcall('GET', key)
  if type(stored) == 'table' then return stored end -- WRONGTYPE
  local tat = 0
  if stored then
    local n = #stored
    if n < 10 or n > 19 or string.find(stored, '[^0-9]') then return throttle_exact(keys, args, clock) end
    local ds = tonumber(string.sub(stored, 1, n - 9)) - now_s
    if not (math.abs(ds) < 2000000) then return throttle_exact(keys, args, clock) end
    tat = ds * NS + (tonumber(string.sub(stored, n - 8)) - now_ns)
  end
  local base = 0
  if tat > 0 then base = tat end
  local new_tat = base + increment
  local diff = tolerance - new_tat
  local limited = diff < 0
  local ttl = new_tat
  if limited then ttl = tat end
  local next = tolerance - ttl
  local ttl_ms = 0
  if not limited then
    ttl_ms = tdiv(ttl, 1000000)
    if ttl_ms < 0 then return redis.error_reply(E_EXPIRE) end
  end
  local remaining = 0
  if next > -emission then
    local eu, nu = tdiv(emission, 1000), tdiv(next, 1000)
    if eu ~= 0 then
      remaining = f64_to_i64(nu / eu)
    elseif nu > 0 then
      remaining = '9223372036854775807'
    elseif nu < 0 then
      remaining = '-9223372036854775808'
    end
  end
  local retry = -1
  if limited and increment <= tolerance then retry = fast_seconds(-diff) end
  local l = 0
  if limited then
    l = 1
  elseif ttl_ms == 0 then
    redis.call('DEL', key)
  else
    local total = now_ns + new_tat
    local sub_s = math.fmod(total, NS)
    redis.call('SET', key, string.format('%d%09d', now_s + (total - sub_s) / NS, sub_s), 'PX',
      string.format('%d', ttl_ms))
  end
  return {l, limit, remaining, retry, fast_seconds(ttl)}
end

local function redis_clock()
  local t = redis.call('TIME')
  return tonumber(t[1]), tonumber(t[2]) * 1000
end
)lua";

// Tests swap everything from this marker on for a registration with their own clock.
constexpr std::string_view kRegister = R"lua(-- keywarden:register
redis.register_function('keywarden_throttle_v1', function(keys, args)
  return throttle(keys, args, redis_clock)
end)
)lua";

constexpr std::string_view kScriptHead = R"lua(-- keywarden CL.THROTTLE (script form)
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: TIME before writes
)lua";

constexpr std::string_view kScriptTail = "return throttle(KEYS, ARGV, redis_clock)\n";

std::string build(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (std::string_view p : parts)
    s.append(p);
  return s;
}

}  // namespace

const std::string& throttleLibraryCode() {
  static const std::string code =
      build({"#!lua name=", kThrottleLibraryName,
             "\n-- keywarden's CL.THROTTLE: redis-cell's GCRA without a module (src/ratelimit/)\n",
             kCore, kRegister});
  return code;
}

const std::string& throttleScriptCode() {
  static const std::string code = build({kScriptHead, kCore, kScriptTail});
  return code;
}

const std::string& throttleScriptSha() {
  static const std::string sha = sha1Hex(throttleScriptCode());
  return sha;
}

void appendThrottleCall(std::string* out, ThrottleCallForm form, size_t tail_count,
                        std::string_view args_tail) {
  resp::arrayHeader(out, static_cast<int64_t>(tail_count + 3));
  switch (form) {
  case ThrottleCallForm::kFunction:
    resp::bulk(out, "FCALL");
    resp::bulk(out, kThrottleFunctionName);
    break;
  case ThrottleCallForm::kScript:
    resp::bulk(out, "EVALSHA");
    resp::bulk(out, throttleScriptSha());
    break;
  case ThrottleCallForm::kEval:
    resp::bulk(out, "EVAL");
    resp::bulk(out, throttleScriptCode());
    break;
  }
  resp::bulk(out, tail_count > 0 ? "1" : "0");  // no key at all: the code answers the usage error
  out->append(args_tail);
}

std::string throttleReplyIntegers(std::string_view reply) {
  auto number = [](std::string_view s, size_t* out) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
  };
  auto integer = [](std::string_view s) {
    size_t i = !s.empty() && s[0] == '-' ? 1 : 0;
    if (i == s.size() || s.size() > 20)
      return false;
    for (; i < s.size(); ++i)
      if (s[i] < '0' || s[i] > '9')
        return false;
    return true;
  };
  size_t eol = reply.find("\r\n");
  size_t count = 0;
  if (reply.empty() || reply[0] != '*' || eol == std::string_view::npos ||
      !number(reply.substr(1, eol - 1), &count) || count > 16)
    return std::string(reply);
  std::string out(reply.substr(0, eol + 2));
  size_t pos = eol + 2;
  for (size_t i = 0; i < count; ++i) {
    eol = reply.find("\r\n", pos);
    if (eol == std::string_view::npos || eol == pos)
      return std::string(reply);
    const std::string_view line = reply.substr(pos + 1, eol - pos - 1);
    if (reply[pos] == ':' && integer(line)) {
      out.append(reply.substr(pos, eol + 2 - pos));
      pos = eol + 2;
      continue;
    }
    size_t len = 0;
    if (reply[pos] != '$' || !number(line, &len) || len > reply.size() - (eol + 2) ||
        reply.size() - (eol + 2) - len < 2 || reply.substr(eol + 2 + len, 2) != "\r\n" ||
        !integer(reply.substr(eol + 2, len)))
      return std::string(reply);
    out.push_back(':');
    out.append(reply.substr(eol + 2, len));
    out.append("\r\n");
    pos = eol + 2 + len + 2;
  }
  return pos == reply.size() ? out : std::string(reply);
}

void appendThrottleLoad(std::string* out, ThrottleCallForm form) {
  switch (form) {
  case ThrottleCallForm::kFunction:
    resp::arrayHeader(out, 4);
    resp::bulk(out, "FUNCTION");
    resp::bulk(out, "LOAD");
    resp::bulk(out, "REPLACE");
    resp::bulk(out, throttleLibraryCode());
    break;
  case ThrottleCallForm::kScript:
    resp::arrayHeader(out, 3);
    resp::bulk(out, "SCRIPT");
    resp::bulk(out, "LOAD");
    resp::bulk(out, throttleScriptCode());
    break;
  case ThrottleCallForm::kEval:
    break;
  }
}

}  // namespace kw

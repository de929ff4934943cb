#include "ratelimit/cell_throttle.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace kw {
namespace {

__extension__ typedef __int128 i128;

constexpr int64_t kNsPerS = 1'000'000'000;
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxExactPeriodS = int64_t{1} << 53;

bool inRange(i128 v) {
  return v > -i128{kThrottleRangeNs} && v < i128{kThrottleRangeNs};
}

// Rust's i64::from_str: an optional sign, then at least one ASCII digit, nothing else.
bool parseRustI64(std::string_view s, int64_t* out) {
  size_t i = 0;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    i = 1;
  }
  if (i == s.size())
    return false;
  const uint64_t limit = negative ? uint64_t{1} << 63 : static_cast<uint64_t>(kI64Max);
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c < '0' || c > '9')
      return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (limit - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

// Redis replaces CR and LF in error replies with spaces; so does keywarden.
std::string errorText(std::string_view prefix, std::string_view arg) {
  std::string out(prefix);
  for (char c : arg)
    out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  return out;
}

// Rust's `f as i64`: truncation toward zero, NaN -> 0, saturating at the ends.
int64_t rustF64ToI64(double f) {
  if (std::isnan(f))
    return 0;
  if (f >= 9223372036854775808.0)
    return kI64Max;
  if (f <= -9223372036854775808.0)
    return kI64Min;
  return static_cast<int64_t>(f);
}

// A duration in whole seconds as redis-cell's CL.THROTTLE replies it (src/lib.rs):
// `d.as_seconds_f64() as i64`, plus one when `d.subsec_milliseconds() > 0`.
int64_t replySeconds(int64_t ns) {
  const int64_t secs = ns / kNsPerS;   // the time crate keeps seconds and nanoseconds
  const int64_t nanos = ns % kNsPerS;  // with the same sign, as C++ division does
  const double f = static_cast<double>(secs) + static_cast<double>(nanos) / 1e9;
  int64_t s = rustF64ToI64(f);
  if (nanos / 1'000'000 > 0)
    ++s;
  return s;
}

}  // namespace

bool parseThrottle(std::span<const std::string_view> args, ThrottleRequest* out,
                   std::string* error) {
  if (args.size() != 5 && args.size() != 6) {
    *error = kThrottleUsageError;
    return false;
  }
  ThrottleRequest r;
  r.key = args[1];
  int64_t* fields[] = {&r.max_burst, &r.count, &r.period_s, &r.quantity};
  for (size_t i = 2; i < args.size(); ++i) {
    if (!parseRustI64(args[i], fields[i - 2])) {
      *error = errorText("Cell error: Store error: Couldn't parse as integer: ", args[i]);
      return false;
    }
  }
  *out = r;
  return true;
}

bool throttleParams(const ThrottleRequest& req, ThrottleParams* out, std::string* error) {
  // Rate::per_period: a zero count or period is a zero rate; otherwise the period in ns as a
  // double divided by the count as a double, truncated.
  if (req.count == 0 || req.period_s == 0) {
    *error = kThrottleZeroRateError;
    return false;
  }
  if (req.period_s >= kMaxExactPeriodS || req.period_s <= -kMaxExactPeriodS) {
    *error = kThrottleRangeError;
    return false;
  }
  const double q = static_cast<double>(req.period_s) * 1e9 / static_cast<double>(req.count);
  if (!(std::fabs(q) < static_cast<double>(kThrottleRangeNs))) {
    *error = kThrottleRangeError;
    return false;
  }
  const int64_t emission = static_cast<int64_t>(q);
  if (emission == 0) {
    *error = kThrottleZeroRateError;
    return false;
  }
  const i128 limit = i128{req.max_burst} + 1;
  const i128 tolerance = i128{emission} * limit;
  const i128 increment = i128{emission} * req.quantity;
  if (!inRange(tolerance) || !inRange(increment)) {
    *error = kThrottleRangeError;
    return false;
  }
  out->limit = static_cast<int64_t>(limit);
  out->emission_ns = emission;
  out->tolerance_ns = static_cast<int64_t>(tolerance);
  out->increment_ns = static_cast<int64_t>(increment);
  return true;
}

bool parseStoredTat(std::string_view text, uint64_t* out, std::string* error) {
  // Rust's u64::from_str: an optional '+', digits; the first problem met left to right wins.
  if (text.empty()) {
    *error = "Cell error: cannot parse integer from empty string";
    return false;
  }
  size_t i = text[0] == '+' ? 1 : 0;
  if (i == text.size()) {
    *error = "Cell error: invalid digit found in string";
    return false;
  }
  uint64_t v = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') {
      *error = "Cell error: invalid digit found in string";
      return false;
    }
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) {
      *error = "Cell error: number too large to fit in target type";
      return false;
    }
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool decideThrottle(const ThrottleParams& p, std::optional<uint64_t> tat_ns, int64_t now_ns,
                    ThrottleReply* reply, ThrottleWrite* write, std::string* error) {
  const i128 tat = tat_ns ? i128{*tat_ns} - now_ns : 0;
  const i128 new_tat = (tat > 0 ? tat : 0) + p.increment_ns;
  const i128 diff = i128{p.tolerance_ns} - new_tat;  // now - allow_at
  const bool limited = diff < 0;
  const i128 ttl = limited ? tat : new_tat;
  const i128 next = i128{p.tolerance_ns} - ttl;
  if (!inRange(tat) || !inRange(new_tat) || !inRange(diff) || !inRange(next)) {
    *error = kThrottleRangeError;
    return false;
  }
  ThrottleWrite w;
  if (!limited) {
    const int64_t ttl_ms = static_cast<int64_t>(ttl / 1'000'000);
    if (ttl_ms < 0) {
      // redis-cell writes the value, then fails to set a negative expiry and answers this;
      // keywarden answers the same without leaving a key that never expires.
      *error = kThrottleExpireError;
      return false;
    }
    w.kind = ttl_ms == 0 ? ThrottleWrite::Kind::kDelete : ThrottleWrite::Kind::kSet;
    w.tat_ns = static_cast<uint64_t>(now_ns + new_tat);  // new_tat >= 1 ms here: positive
    w.ttl_ms = ttl_ms;
  }
  ThrottleReply r;
  r.limited = limited;
  r.limit = p.limit;
  if (next > -i128{p.emission_ns}) {
    // Both below 2^53 in magnitude: exact as doubles, as in Rust's i128 -> f64.
    const auto next_us = static_cast<int64_t>(next / 1000);
    const int64_t emission_us = p.emission_ns / 1000;
    if (emission_us != 0)
      r.remaining = rustF64ToI64(static_cast<double>(next_us) / static_cast<double>(emission_us));
    else  // x / +0.0 in IEEE: +-inf (saturating), or NaN (0) for 0 / 0
      r.remaining = next_us > 0 ? kI64Max : next_us < 0 ? kI64Min : 0;
  }
  // A limited request that could never pass (quantity beyond the burst) keeps retry_after -1.
  if (limited && p.increment_ns <= p.tolerance_ns)
    r.retry_after_ns = static_cast<int64_t>(-diff);
  r.reset_after_ns = static_cast<int64_t>(ttl);
  r.retry_after_s = replySeconds(r.retry_after_ns);
  r.reset_after_s = replySeconds(r.reset_after_ns);
  *reply = r;
  *write = w;
  return true;
}

void appendThrottleReply(std::string* out, const ThrottleReply& r) {
  char buf[4 + 5 * 23];  // "*5\r\n", then five ":<int64>\r\n"
  char* p = buf;
  std::memcpy(p, "*5\r\n", 4);
  p += 4;
  for (int64_t v :
       {int64_t{r.limited ? 1 : 0}, r.limit, r.remaining, r.retry_after_s, r.reset_after_s}) {
    *p++ = ':';
    p = std::to_chars(p, buf + sizeof buf, v).ptr;
    *p++ = '\r';
    *p++ = '\n';
  }
  out->append(buf, static_cast<size_t>(p - buf));
}

}  // namespace kw

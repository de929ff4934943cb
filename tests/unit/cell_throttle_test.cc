#include <doctest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ratelimit/cell_throttle.h"

using namespace kw;

namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;
constexpr int64_t kStart = 1'800'000'000 * kS + 123'456'789;  // an arbitrary clock

ThrottleParams paramsFor(std::vector<std::string_view> args) {
  ThrottleRequest req;
  ThrottleParams p;
  std::string err;
  REQUIRE_MESSAGE(parseThrottle(args, &req, &err), err);
  REQUIRE_MESSAGE(throttleParams(req, &p, &err), err);
  return p;
}

std::string errorFor(std::vector<std::string_view> args) {
  ThrottleRequest req;
  ThrottleParams p;
  std::string err;
  if (parseThrottle(args, &req, &err) && throttleParams(req, &p, &err))
    return "";
  return err;
}

// A key in a map, written the way Redis would keep it (expiry ignored: tests stay within it).
struct Store {
  std::optional<uint64_t> tat;

  ThrottleReply call(const ThrottleParams& p, int64_t now) {
    ThrottleReply r;
    ThrottleWrite w;
    std::string err;
    REQUIRE_MESSAGE(decideThrottle(p, tat, now, &r, &w, &err), err);
    if (w.kind == ThrottleWrite::Kind::kSet)
      tat = w.tat_ns;
    else if (w.kind == ThrottleWrite::Kind::kDelete)
      tat.reset();
    return r;
  }
};

std::vector<int64_t> reply5(const ThrottleReply& r) {
  return {r.limited ? 1 : 0, r.limit, r.remaining, r.retry_after_s, r.reset_after_s};
}

}  // namespace

TEST_CASE("CL.THROTTLE: redis-cell's README example") {
  Store s;
  CHECK(reply5(s.call(paramsFor({"cl.throttle", "user123", "15", "30", "60"}), kStart)) ==
        std::vector<int64_t>{0, 16, 15, -1, 2});
}

TEST_CASE("CL.THROTTLE: redis-cell's end-to-end test (max_burst 0, 1 per 2 s)") {
  Store s;
  const ThrottleParams p = paramsFor({"cl.throttle", "user123", "0", "1", "2", "1"});
  CHECK(reply5(s.call(p, kStart)) == std::vector<int64_t>{0, 1, 0, -1, 2});
  CHECK(reply5(s.call(p, kStart)) == std::vector<int64_t>{1, 1, 0, 2, 2});
  CHECK(reply5(s.call(p, kStart + 2 * kS)) == std::vector<int64_t>{0, 1, 0, -1, 2});
}

TEST_CASE("CL.THROTTLE: redis-cell's it_rate_limits table (max_burst 4, 1 per second)") {
  // (offset ms, quantity, remaining, reset_after ms, retry_after ms, limited), as in
  // src/cell/mod.rs; durations before rounding.
  struct Case {
    int64_t at_ms, quantity, remaining, reset_ms, retry_ms;
    bool limited;
  };
  const Case cases[] = {
      {0, 6, 5, 0, -1000, true},  // never larger than the maximum
      {0, 1, 4, 1000, -1000, false},    {0, 1, 3, 2000, -1000, false},
      {0, 1, 2, 3000, -1000, false},    {0, 1, 1, 4000, -1000, false},
      {0, 1, 0, 5000, -1000, false},    {0, 1, 0, 5000, 1000, true},
      {3000, 1, 2, 3000, -1000, false}, {3100, 1, 1, 3900, -1000, false},
      {4000, 1, 1, 4000, -1000, false}, {8000, 1, 4, 1000, -1000, false},
      {9500, 1, 4, 1000, -1000, false}, {9500, 0, 4, 1000, -1000, false},  // quantity 0 peeks
      {9500, 2, 2, 3000, -1000, false},  // a larger quantity uses more
      {9500, 5, 2, 3000, 3000, true},    // and cannot exceed the limit
  };
  Store s;
  int n = 0;
  for (const Case& c : cases) {
    CAPTURE(n);
    const std::string q = std::to_string(c.quantity);
    const ThrottleReply r =
        s.call(paramsFor({"cl.throttle", "foo", "4", "1", "1", q}), kStart + c.at_ms * kMs);
    CHECK(r.limited == c.limited);
    CHECK(r.limit == 5);
    CHECK(r.remaining == c.remaining);
    CHECK(r.reset_after_ns == c.reset_ms * kMs);
    CHECK(r.retry_after_ns == c.retry_ms * kMs);
    ++n;
  }
}

TEST_CASE("CL.THROTTLE: seconds round up only for a millisecond remainder, as in 0.4") {
  // 3 per 10 s: emission 3.333333333 s.
  const ThrottleParams p = paramsFor({"cl.throttle", "k", "0", "3", "10"});
  Store s;
  ThrottleReply r = s.call(p, kStart);
  CHECK(r.reset_after_ns == 3'333'333'333);
  CHECK(r.reset_after_s == 4);
  r = s.call(p, kStart);
  CHECK(r.limited);
  CHECK(r.retry_after_ns == 3'333'333'333);
  CHECK(r.retry_after_s == 4);
  // 0.9995 s left: the 999 ms count, 4 s 0.5 ms would not.
  r = s.call(p, kStart + 2'333'833'333);
  CHECK(r.retry_after_ns == 999'500'000);
  CHECK(r.retry_after_s == 1);
  r = s.call(p, kStart + 3'333'333'333 - 500'000);
  CHECK(r.limited);
  CHECK(r.retry_after_ns == 500'000);
  CHECK(r.retry_after_s == 0);  // a sub-millisecond remainder does not round up
}

TEST_CASE("CL.THROTTLE: remaining follows redis-cell's microsecond division") {
  // 7 per 60 s: emission 8571428571 ns; remaining = trunc(us(T - ttl) / us(E)).
  const ThrottleParams p = paramsFor({"cl.throttle", "k", "9", "7", "60"});
  CHECK(p.emission_ns == 8'571'428'571);
  CHECK(p.tolerance_ns == 85'714'285'710);
  Store s;
  CHECK(s.call(p, kStart).remaining == 9);
  // 1 ns short of a full emission interval later the TTL is 1 ns longer, which the
  // microsecond truncation drops: 9 again.
  const ThrottleReply r = s.call(p, kStart + 8'571'428'570);
  CHECK(r.reset_after_ns == 8'571'428'572);
  CHECK(r.remaining == 9);
}

TEST_CASE("CL.THROTTLE: the stored value is the TAT in ns since the epoch, TTL in ms") {
  const ThrottleParams p = paramsFor({"cl.throttle", "k", "2", "1", "10"});
  ThrottleReply r;
  ThrottleWrite w;
  std::string err;
  REQUIRE(decideThrottle(p, std::nullopt, kStart, &r, &w, &err));
  CHECK(w.kind == ThrottleWrite::Kind::kSet);
  CHECK(w.tat_ns == static_cast<uint64_t>(kStart + 10 * kS));
  CHECK(w.ttl_ms == 10'000);
  // A limited call writes nothing.
  const uint64_t full = static_cast<uint64_t>(kStart + 30 * kS);
  REQUIRE(decideThrottle(p, full, kStart, &r, &w, &err));
  CHECK(r.limited);
  CHECK(w.kind == ThrottleWrite::Kind::kNone);
  // A TTL under 1 ms deletes the key (redis-cell sets a 0 ms expiry).
  const ThrottleParams peek = paramsFor({"cl.throttle", "k", "2", "1", "10", "0"});
  REQUIRE(decideThrottle(peek, static_cast<uint64_t>(kStart + 400'000), kStart, &r, &w, &err));
  CHECK(w.kind == ThrottleWrite::Kind::kDelete);
  CHECK(r.reset_after_s == 0);
}

TEST_CASE("CL.THROTTLE: a past TAT counts from now") {
  const ThrottleParams p = paramsFor({"cl.throttle", "k", "3", "1", "1"});
  ThrottleReply r;
  ThrottleWrite w;
  std::string err;
  REQUIRE(decideThrottle(p, static_cast<uint64_t>(kStart - 50 * kS), kStart, &r, &w, &err));
  CHECK(reply5(r) == std::vector<int64_t>{0, 4, 3, -1, 1});
  CHECK(w.tat_ns == static_cast<uint64_t>(kStart + kS));
}

TEST_CASE("CL.THROTTLE: argument errors are redis-cell's") {
  CHECK(errorFor({"cl.throttle"}) == kThrottleUsageError);
  CHECK(errorFor({"cl.throttle", "k", "1", "2"}) == kThrottleUsageError);
  CHECK(errorFor({"cl.throttle", "k", "1", "2", "3", "4", "5"}) == kThrottleUsageError);
  CHECK(errorFor({"cl.throttle", "k", "x", "2", "3"}) ==
        "Cell error: Store error: Couldn't parse as integer: x");
  CHECK(errorFor({"cl.throttle", "k", "1", "2", "3", "1.5"}) ==
        "Cell error: Store error: Couldn't parse as integer: 1.5");
  // The first bad one is named; CR/LF become spaces as in every Redis error.
  CHECK(errorFor({"cl.throttle", "k", "1", "a\r\nb", "z"}) ==
        "Cell error: Store error: Couldn't parse as integer: a  b");
  CHECK(errorFor({"cl.throttle", "k", " 1", "2", "3"}) ==
        "Cell error: Store error: Couldn't parse as integer:  1");
  CHECK(errorFor({"cl.throttle", "k", "", "2", "3"}) ==
        "Cell error: Store error: Couldn't parse as integer: ");
  CHECK(errorFor({"cl.throttle", "k", "-", "2", "3"}) ==
        "Cell error: Store error: Couldn't parse as integer: -");
  CHECK(errorFor({"cl.throttle", "k", "9223372036854775808", "2", "3"}) ==
        "Cell error: Store error: Couldn't parse as integer: 9223372036854775808");
  // Rust accepts a leading '+', leading zeros and -0.
  CHECK(errorFor({"cl.throttle", "k", "+1", "0002", "-0", "1"}) == kThrottleZeroRateError);
  CHECK(errorFor({"cl.throttle", "k", "1", "0", "3"}) == kThrottleZeroRateError);
  CHECK(errorFor({"cl.throttle", "k", "1", "2", "0"}) == kThrottleZeroRateError);
  // A count so large the interval truncates to 0 ns is a zero rate too.
  CHECK(errorFor({"cl.throttle", "k", "1", "2000000000", "1"}) == kThrottleZeroRateError);
  CHECK(errorFor({"cl.throttle", "k", "1", "1", "1", "-9223372036854775808"}) ==
        kThrottleRangeError);
  CHECK(errorFor({"cl.throttle", "k", "9223372036854775807", "1", "1"}) == kThrottleRangeError);
  CHECK(errorFor({"cl.throttle", "k", "1", "1", "9007199254740992"}) == kThrottleRangeError);
  CHECK(errorFor({"cl.throttle", "k", "1", "1", "9007199254740991"}) == kThrottleRangeError);
  CHECK(errorFor({"cl.throttle", "k", "1", "10000000", "9007199254740991"}) == "");
}

TEST_CASE("CL.THROTTLE: stored values are read as Rust reads a u64") {
  uint64_t v = 0;
  std::string err;
  CHECK(parseStoredTat("+18446744073709551615", &v, &err));
  CHECK(v == 18446744073709551615ull);
  CHECK_FALSE(parseStoredTat("18446744073709551616", &v, &err));
  CHECK(err == "Cell error: number too large to fit in target type");
  CHECK_FALSE(parseStoredTat("99999999999999999999x", &v, &err));
  CHECK(err == "Cell error: number too large to fit in target type");
  CHECK_FALSE(parseStoredTat("12x99999999999999999999", &v, &err));
  CHECK(err == "Cell error: invalid digit found in string");
  CHECK_FALSE(parseStoredTat("-1", &v, &err));
  CHECK(err == "Cell error: invalid digit found in string");
  CHECK_FALSE(parseStoredTat("+", &v, &err));
  CHECK(err == "Cell error: invalid digit found in string");
  CHECK_FALSE(parseStoredTat("", &v, &err));
  CHECK(err == "Cell error: cannot parse integer from empty string");
}

TEST_CASE("CL.THROTTLE: negative quantities give tokens back, never a negative expiry") {
  const ThrottleParams take = paramsFor({"cl.throttle", "k", "4", "1", "1", "3"});
  const ThrottleParams give = paramsFor({"cl.throttle", "k", "4", "1", "1", "-2"});
  Store s;
  CHECK(s.call(take, kStart).remaining == 2);
  CHECK(reply5(s.call(give, kStart)) == std::vector<int64_t>{0, 5, 4, -1, 1});
  // Giving back more than was taken would need a negative TTL: redis-cell's expiry error.
  ThrottleReply r;
  ThrottleWrite w;
  std::string err;
  CHECK_FALSE(decideThrottle(give, s.tat, kStart, &r, &w, &err));
  CHECK(err == kThrottleExpireError);
}

TEST_CASE("CL.THROTTLE: negative rates and huge rates follow redis-cell's arithmetic") {
  // A negative count makes a negative interval: always limited, as redis-cell computes it.
  Store s;
  CHECK(reply5(s.call(paramsFor({"cl.throttle", "k", "3", "-1", "1"}), kStart)) ==
        std::vector<int64_t>{1, 4, 0, -1, 0});
  // An interval under 1 us divides by zero microseconds: remaining saturates.
  Store t;
  const ThrottleReply r = t.call(paramsFor({"cl.throttle", "k", "10", "1000000", "1"}), kStart);
  CHECK(r.remaining == 10);  // 1 us interval: still a real division
  Store u;
  const ThrottleReply fast = u.call(paramsFor({"cl.throttle", "k", "10", "2000000", "1"}), kStart);
  CHECK(fast.remaining == INT64_MAX);
}

TEST_CASE("CL.THROTTLE: stored TATs too far from now are out of range, not wrapped") {
  const ThrottleParams p = paramsFor({"cl.throttle", "k", "1", "1", "1"});
  ThrottleReply r;
  ThrottleWrite w;
  std::string err;
  CHECK_FALSE(decideThrottle(p, 18446744073709551615ull, kStart, &r, &w, &err));
  CHECK(err == kThrottleRangeError);
}

TEST_CASE("CL.THROTTLE: the reply is five RESP integers") {
  std::string out;
  ThrottleReply r;
  r.limited = true;
  r.limit = 16;
  r.remaining = 0;
  r.retry_after_s = 2;
  r.reset_after_s = 30;
  appendThrottleReply(&out, r);
  CHECK(out == "*5\r\n:1\r\n:16\r\n:0\r\n:2\r\n:30\r\n");
}

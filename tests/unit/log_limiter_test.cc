// LogLimiter (common/log_limiter.h): one line per key per interval, the count of those left out,
// and a bounded table.
#include <doctest.h>

#include <string>

#include "common/log_limiter.h"

namespace kw {

TEST_CASE("log limiter: one line per key per interval, with the count left out") {
  LogLimiter limiter(10000, 16);
  uint64_t suppressed = 99;
  CHECK(limiter.allow("10.0.0.1", 1000, &suppressed));
  CHECK(suppressed == 0);
  CHECK_FALSE(limiter.allow("10.0.0.1", 1001, &suppressed));
  CHECK_FALSE(limiter.allow("10.0.0.1", 10999, &suppressed));
  // Another address is heard at once.
  CHECK(limiter.allow("10.0.0.2", 1002, &suppressed));
  CHECK(suppressed == 0);
  // The interval has passed: the line says how many were left out.
  CHECK(limiter.allow("10.0.0.1", 11000, &suppressed));
  CHECK(suppressed == 2);
  CHECK_FALSE(limiter.allow("10.0.0.1", 11001, &suppressed));
  CHECK(limiter.allow("10.0.0.1", 30000, &suppressed));
  CHECK(suppressed == 1);
}

TEST_CASE("log limiter: the table is bounded; old keys make room") {
  LogLimiter limiter(1000, 4);
  uint64_t suppressed = 0;
  for (int i = 0; i < 4; ++i)
    CHECK(limiter.allow("host" + std::to_string(i), 100, &suppressed));
  // Full, and every key is recent: a fifth address is not logged (at most 4 lines a second).
  CHECK_FALSE(limiter.allow("host4", 200, &suppressed));
  // A second later the old keys are forgotten and new ones are heard.
  CHECK(limiter.allow("host4", 1100, &suppressed));
  CHECK(suppressed == 0);
  CHECK(limiter.allow("host5", 1100, &suppressed));
}

}  // namespace kw

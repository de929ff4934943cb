#include <doctest.h>

#include "pg/circuit_breaker.h"

namespace kw::pg {
namespace {

using State = CircuitBreaker::State;

TEST_CASE("circuit breaker: opens after N consecutive failures, a success resets the count") {
  CircuitBreaker b(3, 1000);
  uint64_t now = 10000;
  CHECK(b.allowQuery());
  b.onFailure(now, "refused");
  b.onFailure(now, "refused");
  b.onSuccess();
  b.onFailure(now, "refused");
  b.onFailure(now, "refused");
  CHECK(b.allowQuery());
  CHECK(b.state() == State::kClosed);
  b.onFailure(now, "connection refused");
  CHECK_FALSE(b.allowQuery());
  CHECK(b.state() == State::kOpen);
  CHECK(b.cause() == "connection refused");
  CHECK(b.opened() == 1);
}

TEST_CASE("circuit breaker: one probe per interval while open; success closes, failure reopens") {
  CircuitBreaker b(1, 1000);
  uint64_t now = 5000;
  b.onFailure(now, "down");
  CHECK_FALSE(b.takeProbe(now + 999));
  CHECK(b.takeProbe(now + 1000));
  CHECK(b.state() == State::kHalfOpen);
  CHECK_FALSE(b.allowQuery());           // misses still fail fast while the probe runs
  CHECK_FALSE(b.takeProbe(now + 1001));  // only one probe at a time
  b.onFailure(now + 1200, "still down");
  CHECK(b.state() == State::kOpen);
  CHECK(b.opened() == 1);  // reopening from half-open is not a new opening
  CHECK_FALSE(b.takeProbe(now + 2199));
  CHECK(b.takeProbe(now + 2200));
  b.onSuccess();
  CHECK(b.state() == State::kClosed);
  CHECK(b.allowQuery());
  CHECK(b.consecutiveFailures() == 0);
}

TEST_CASE("circuit breaker: a probe that never reports is given up") {
  CircuitBreaker b(1, 100);
  b.onFailure(0, "down");
  CHECK(b.takeProbe(100));
  CHECK_FALSE(b.takeProbe(100 + CircuitBreaker::kProbeGiveUpMs - 1));
  CHECK(b.takeProbe(100 + CircuitBreaker::kProbeGiveUpMs));
}

}  // namespace
}  // namespace kw::pg

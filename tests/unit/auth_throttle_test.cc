#include <doctest.h>

#include "policy/auth_throttle.h"

using kw::AuthThrottle;

TEST_CASE("auth throttle blocks an address after repeated failures, for a while") {
  AuthThrottle t;
  AuthThrottle::Limits lim{3, 60, 30};
  int64_t now = 1'000'000;
  CHECK(t.allowed("10.0.0.1", now, lim));
  t.recordFailure("10.0.0.1", now, lim);
  t.recordFailure("10.0.0.1", now + 1, lim);
  CHECK(t.allowed("10.0.0.1", now + 2, lim));
  t.recordFailure("10.0.0.1", now + 2, lim);
  CHECK_FALSE(t.allowed("10.0.0.1", now + 3, lim));
  CHECK(t.allowed("10.0.0.2", now + 3, lim));  // other addresses are unaffected
  CHECK_FALSE(t.allowed("10.0.0.1", now + 29'000, lim));
  CHECK(t.allowed("10.0.0.1", now + 2 + 30'000, lim));
}

TEST_CASE("auth throttle forgets failures outside the window") {
  AuthThrottle t;
  AuthThrottle::Limits lim{3, 60, 30};
  t.recordFailure("h", 0, lim);
  t.recordFailure("h", 1000, lim);
  t.recordFailure("h", 70'000, lim);  // new window: count restarts
  CHECK(t.allowed("h", 70'001, lim));
}

TEST_CASE("auth throttle memory stays bounded under address spraying") {
  AuthThrottle t;
  AuthThrottle::Limits lim{5, 60, 30};
  for (int i = 0; i < 200'000; ++i)
    t.recordFailure("addr" + std::to_string(i), 0, lim);
  CHECK(t.allowed("fresh", 0, lim));
}

TEST_CASE("hostOf strips the port") {
  CHECK(kw::hostOf("127.0.0.1:5000") == "127.0.0.1");
  CHECK(kw::hostOf("[::1]:5000") == "[::1]");
  CHECK(kw::hostOf("nohost") == "nohost");
}

TEST_CASE("auth throttle: without a block, the failure limit alone refills over the window") {
  AuthThrottle t;
  AuthThrottle::Limits lim{3, 60, 0};  // 3 per 60 s: one more every 20 s
  for (int i = 0; i < 3; ++i)
    t.recordFailure("h", 0, lim);
  CHECK_FALSE(t.allowed("h", 19'999, lim));
  CHECK(t.allowed("h", 20'000, lim));
  t.recordFailure("h", 20'000, lim);
  CHECK_FALSE(t.allowed("h", 20'001, lim));
}

TEST_CASE("auth throttle: a success forgets the failures; max_failures 0 disables it") {
  AuthThrottle t;
  AuthThrottle::Limits lim{2, 60, 30};
  t.recordFailure("h", 0, lim);
  t.recordSuccess("h");
  t.recordFailure("h", 1, lim);
  CHECK(t.allowed("h", 2, lim));  // one failure since the success
  AuthThrottle::Limits off{0, 60, 30};
  for (int i = 0; i < 10; ++i)
    t.recordFailure("x", 0, off);
  CHECK(t.allowed("x", 0, off));
}

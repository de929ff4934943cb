#include <doctest.h>

#include <string>

#include "common/config_loader.h"

namespace kw {
namespace {

std::string parseError(const std::string& text) {
  Config config;
  std::string error;
  CHECK_FALSE(parseConfigText(text, "conf/keywarden.toml", &config, &error));
  return error;
}

Config parseOk(const std::string& text) {
  Config config;
  std::string error;
  const bool ok = parseConfigText(text, "t.toml", &config, &error);
  INFO(error);
  CHECK(ok);
  return config;
}

const char* kNamespaces = R"(
[[namespaces]]
name = "session"
pattern = "session:{id}"

[[namespaces]]
name = "rl"
pattern = "rl:{identifier...}"
rate_limit = { rate = 100, period_s = 10, burst = 20 }
rate_limit_fallback = "deny"
)";

}  // namespace

TEST_CASE("rate limit config: nothing set means no protective limits, local fallback") {
  const Config c = parseOk("");
  CHECK_FALSE(c.rate_limit.protective);
  CHECK(c.rate_limit.local_max_keys == 100000);
  CHECK(c.rate_limit.redis_form == ThrottleRedisForm::kAuto);
  CHECK(c.rate_limit.fallbackFor(0) == ThrottleFallback::kLocal);
  CHECK(c.rate_limit.id != 0);
  CHECK(parseOk("").rate_limit.id != c.rate_limit.id);  // one id per loaded file
}

TEST_CASE("rate limit config: namespaces, users, clients and the [rate_limit] section") {
  const Config c = parseOk(std::string(kNamespaces) + R"(
[[users]]
name = "svc"
nopass = true
read = ["*"]
write = ["*"]
commands = ["all"]
rate_limit = { rate = 1000 }

[limits]
per_client_rate_limit = { rate = 50, period_s = 1, burst = 5 }

[rate_limit]
local_max_keys = 5000
redis_script = "script"
)");
  const RateLimitConfig& rl = c.rate_limit;
  CHECK(rl.protective);
  REQUIRE(rl.namespace_limits.size() == 2);
  CHECK_FALSE(rl.namespace_limits[0].enabled());
  CHECK(rl.namespace_limits[1].rate == 100);
  CHECK(rl.namespace_limits[1].period_s == 10);
  CHECK(rl.namespace_limits[1].burst == 20);
  CHECK(rl.fallbackFor(0) == ThrottleFallback::kLocal);
  CHECK(rl.fallbackFor(1) == ThrottleFallback::kDeny);
  REQUIRE(rl.user_limits.size() == 1);
  CHECK(rl.user_limits[0].first == "svc");
  CHECK(rl.user_limits[0].second.rate == 1000);
  CHECK(rl.user_limits[0].second.period_s == 1);
  CHECK(rl.user_limits[0].second.burst == 1000);  // burst defaults to the rate
  CHECK(rl.per_client.rate == 50);
  CHECK(rl.per_client.burst == 5);
  CHECK(rl.local_max_keys == 5000);
  CHECK(rl.redis_form == ThrottleRedisForm::kScript);
}

TEST_CASE("rate limit config: errors name the file, the line and the key") {
  CHECK(parseError("[[namespaces]]\nname = \"a\"\npattern = \"a:{x}\"\nrate_limit = 5\n") ==
        "conf/keywarden.toml:4: namespaces[0].rate_limit: expected a table { rate = N, "
        "period_s = P, burst = B }, got 5");
  CHECK(parseError("[[namespaces]]\nname = \"a\"\npattern = \"a:{x}\"\n"
                   "rate_limit = { rate = 0 }\n") ==
        "conf/keywarden.toml:4: namespaces[0].rate_limit.rate: expected an integer in "
        "1..1000000000, got 0");
  CHECK(parseError("[[namespaces]]\nname = \"a\"\npattern = \"a:{x}\"\n"
                   "rate_limit = { period_s = 2 }\n") ==
        "conf/keywarden.toml:4: namespaces[0].rate_limit.rate: required");
  CHECK(parseError("[[namespaces]]\nname = \"a\"\npattern = \"a:{x}\"\n"
                   "rate_limit = { rate = 1, shared = true }\n") ==
        "conf/keywarden.toml:4: namespaces[0].rate_limit.shared: unknown key (expected rate, "
        "period_s, burst)");
  CHECK(parseError("[[namespaces]]\nname = \"a\"\npattern = \"a:{x}\"\n"
                   "rate_limit_fallback = \"open\"\n") ==
        "conf/keywarden.toml:4: namespaces[0].rate_limit_fallback: expected \"local\" or "
        "\"allow\" or \"deny\", got \"open\"");
  CHECK(parseError("[limits]\nper_client_rate_limit = { rate = 5, period_s = 0 }\n") ==
        "conf/keywarden.toml:2: limits.per_client_rate_limit.period_s: expected an integer in "
        "1..31622400, got 0");
  CHECK(parseError("[rate_limit]\nlocal_max_keys = 1\n") ==
        "conf/keywarden.toml:2: rate_limit.local_max_keys: expected an integer in "
        "64..100000000, got 1");
  CHECK(parseError("[rate_limit]\nredis_script = \"lua\"\n") ==
        "conf/keywarden.toml:2: rate_limit.redis_script: expected \"auto\" or \"function\" or "
        "\"script\", got \"lua\"");
  CHECK(parseError("[rate_limit]\ncolour = 1\n") ==
        "conf/keywarden.toml:2: rate_limit.colour: unknown key");
  CHECK(parseError("rate_limit = 3\n") ==
        "conf/keywarden.toml:1: rate_limit: expected a table [rate_limit], got 3");
}

TEST_CASE("rate limit config: a multi-line table works too") {
  const Config c = parseOk(R"(
[[users]]
name = "svc"
nopass = true

[users.rate_limit]
rate = 7
period_s = 3
)");
  REQUIRE(c.rate_limit.user_limits.size() == 1);
  CHECK(c.rate_limit.user_limits[0].second.rate == 7);
  CHECK(c.rate_limit.user_limits[0].second.period_s == 3);
  CHECK(c.rate_limit.protective);
}

}  // namespace kw

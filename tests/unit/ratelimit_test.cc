// The proxy-side rate limiters: the shared expiring table, the GCRA cell of the protective
// limits, CL.THROTTLE's local fallback, the limiter registry, the Redis-side code's names.
#include <doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "common/config_loader.h"
#include "ratelimit/expiring_table.h"
#include "ratelimit/gcra_cell.h"
#include "ratelimit/local_throttle.h"
#include "ratelimit/protective_limits.h"
#include "ratelimit/sha1.h"
#include "ratelimit/throttle_lua.h"

using namespace kw;

namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;

ThrottleParams params(std::vector<std::string_view> args) {
  ThrottleRequest req;
  ThrottleParams p;
  std::string err;
  REQUIRE(parseThrottle(args, &req, &err));
  REQUIRE(throttleParams(req, &p, &err));
  return p;
}

}  // namespace

TEST_CASE("sha1 matches the standard test vectors (scripts are named by it)") {
  CHECK(sha1Hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(sha1Hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(sha1Hex(std::string(1000000, 'a')) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  // 55 and 56 bytes: the length fits in the last block, or needs one more.
  CHECK(sha1Hex(std::string(55, 'x')).size() == 40);
  CHECK(sha1Hex(std::string(56, 'x')) != sha1Hex(std::string(55, 'x')));
}

TEST_CASE("the Redis-side calls are built around the client's own argument bytes") {
  const std::string tail = "$1\r\nk\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n";
  std::string out;
  appendThrottleCall(&out, ThrottleCallForm::kFunction, 4, tail);
  CHECK(out == "*7\r\n$5\r\nFCALL\r\n$21\r\nkeywarden_throttle_v1\r\n$1\r\n1\r\n" + tail);
  out.clear();
  appendThrottleCall(&out, ThrottleCallForm::kScript, 4, tail);
  CHECK(out == "*7\r\n$7\r\nEVALSHA\r\n$40\r\n" + throttleScriptSha() + "\r\n$1\r\n1\r\n" + tail);
  CHECK(throttleScriptSha() == sha1Hex(throttleScriptCode()));
  CHECK(throttleLibraryCode().rfind("#!lua name=keywarden_v1\n", 0) == 0);
  CHECK(throttleLibraryCode().find("-- keywarden:register") != std::string::npos);
  out.clear();
  appendThrottleLoad(&out, ThrottleCallForm::kFunction);
  CHECK(out.rfind("*4\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$7\r\nREPLACE\r\n", 0) == 0);
  out.clear();
  appendThrottleLoad(&out, ThrottleCallForm::kEval);
  CHECK(out.empty());
}

TEST_CASE("expiring table: entries live until their expiry, then are gone") {
  ExpiringTable t(1000);
  t.access("a", 100, [](ExpiringTable::Slot& s) {
    CHECK_FALSE(s.present);
    s.present = true;
    s.value = 7;
    s.expires_at = 200;
    return 0;
  });
  ExpiringTable::Slot s;
  CHECK(t.peek("a", 200, &s));
  CHECK(s.value == 7);
  CHECK_FALSE(t.peek("a", 201, &s));
  CHECK_FALSE(t.peek("b", 0, &s));
  // present = false removes.
  t.access("a", 150, [](ExpiringTable::Slot& slot) {
    slot.present = false;
    return 0;
  });
  CHECK_FALSE(t.peek("a", 150, &s));
  CHECK(t.size() == 0);
}

TEST_CASE("expiring table: stays within its bound, evicting the soonest to expire") {
  ExpiringTable t(64 * 16);  // 16 per stripe
  for (int i = 0; i < 100000; ++i) {
    t.access(std::string("k").append(std::to_string(i)), 0, [i](ExpiringTable::Slot& s) {
      s.present = true;
      s.expires_at = 1000000 + i;
      return 0;
    });
  }
  CHECK(t.size() <= 64 * 16);
  // Expired entries go first: a table full of dead entries takes new ones without evicting
  // live ones.
  ExpiringTable u(64);
  for (int i = 0; i < 64 * 4; ++i) {
    u.access("dead" + std::to_string(i), 0, [](ExpiringTable::Slot& s) {
      s.present = true;
      s.expires_at = 10;
      return 0;
    });
  }
  u.access("live", 100, [](ExpiringTable::Slot& s) {
    s.present = true;
    s.expires_at = 1000;
    return 0;
  });
  ExpiringTable::Slot s;
  CHECK(u.peek("live", 100, &s));
}

TEST_CASE("GCRA cell: burst requests at once, then one per emission interval") {
  const GcraRate r = GcraRate::perPeriod(10, 1 * kS, 3);  // 10/s, burst 3
  CHECK(r.emission == 100 * kMs);
  CHECK(r.tolerance == 300 * kMs);
  GcraCell cell;
  const int64_t t0 = 5 * kS;
  CHECK(cell.admit(r, t0).allowed);
  CHECK(cell.admit(r, t0).allowed);
  CHECK(cell.admit(r, t0).allowed);
  GcraDecision d = cell.admit(r, t0);  // the (B+1)th
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after == 100 * kMs);
  CHECK_FALSE(cell.admit(r, t0 + 100 * kMs - 1).allowed);
  CHECK(cell.admit(r, t0 + 100 * kMs).allowed);  // one emission interval later
  CHECK_FALSE(cell.admit(r, t0 + 100 * kMs).allowed);
  CHECK(gcraAvailable(r, cell.tat(), t0 + 400 * kMs) == 3);  // refilled
  // A refund gives one request back.
  cell.refund(r);
  CHECK(cell.admit(r, t0 + 100 * kMs).allowed);
}

TEST_CASE("GCRA cell: threads sharing one cell admit exactly the limit") {
  const GcraRate r = GcraRate::perPeriod(1, 3600 * kS, 10000);  // 10000 at once, then 1/h
  GcraCell cell;
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i)
        if (cell.admit(r, kS).allowed)
          admitted.fetch_add(1);
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(admitted.load() == 10000);
}

TEST_CASE("local fallback: CL.THROTTLE on the process's table, as redis-cell") {
  ExpiringTable t;
  const ThrottleParams p = params({"cl.throttle", "k", "0", "1", "2"});
  const int64_t now = 1'800'000'000 * kS;
  ThrottleReply r;
  std::string err;
  REQUIRE(throttleLocally(t, "k", p, now, &r, &err));
  CHECK_FALSE(r.limited);
  REQUIRE(throttleLocally(t, "k", p, now, &r, &err));
  CHECK(r.limited);
  CHECK(r.retry_after_s == 2);
  REQUIRE(throttleLocally(t, "other", p, now, &r, &err));
  CHECK_FALSE(r.limited);  // keys are independent
  // The entry expires with the limiter: 2 s later it is gone and the call is allowed.
  ExpiringTable::Slot s;
  CHECK(t.peek("k", now + 2 * kS, &s));
  CHECK(static_cast<uint64_t>(s.value) == static_cast<uint64_t>(now + 2 * kS));
  CHECK_FALSE(t.peek("k", now + 2 * kS + 1, &s));
  REQUIRE(throttleLocally(t, "k", p, now + 2 * kS, &r, &err));
  CHECK_FALSE(r.limited);
}

TEST_CASE("local fallback: allow and deny answer in the same form") {
  const ThrottleParams p = params({"cl.throttle", "k", "15", "30", "60"});
  const ThrottleReply allow = throttleAllowAll(p, 0);
  CHECK_FALSE(allow.limited);
  CHECK(allow.limit == 16);
  CHECK(allow.remaining == 15);
  CHECK(allow.retry_after_s == -1);
  const ThrottleReply deny = throttleDenyAll(p, 0);
  CHECK(deny.limited);
  CHECK(deny.limit == 16);
  CHECK(deny.remaining == 0);
  CHECK(deny.retry_after_s == 2);  // one emission interval
  CHECK(deny.reset_after_s == 32);
}

TEST_CASE("limiter registry: state survives a reload that keeps the limit") {
  std::string err;
  Config a, b;
  const std::string text = R"(
[[users]]
name = "svc"
nopass = true
rate_limit = { rate = 1, period_s = 60, burst = 2 }
[[namespaces]]
name = "rl"
pattern = "rl:{x...}"
rate_limit = { rate = 5 }
)";
  REQUIRE(parseConfigText(text, "a", &a, &err));
  REQUIRE(parseConfigText(text, "b", &b, &err));
  LimiterRegistry reg;
  auto la = reg.bind(a);
  CHECK(reg.bind(a) == la);  // same config: same binding
  const BoundLimiter* u = la->user("svc");
  REQUIRE(u != nullptr);
  CHECK(la->user("nobody") == nullptr);
  REQUIRE(la->ns(0) != nullptr);
  CHECK(la->client() == nullptr);
  CHECK(u->cell->admit(u->rate, kS).allowed);
  CHECK(u->cell->admit(u->rate, kS).allowed);
  CHECK_FALSE(u->cell->admit(u->rate, kS).allowed);
  auto lb = reg.bind(b);
  CHECK(lb != la);
  CHECK(lb->user("svc")->cell == u->cell);  // same limiter, same state
  CHECK(u->refusalText(1) == "RATELIMITED user 'svc' over 1 per 60s; retry after 1 ms");
  CHECK(lb->ns(0)->refusalText(2'500'000) ==
        "RATELIMITED namespace 'rl' over 5 per 1s; retry after 3 ms");
  int named = 0;
  reg.forEachNamed([&](std::string_view, std::string_view, const GcraCell&) { ++named; });
  CHECK(named == 2);
}

TEST_CASE("limiter registry: client cells are per address and bounded") {
  LimiterRegistry reg;
  auto a = reg.clientCell("10.0.0.1", 0, 100);
  CHECK(reg.clientCell("10.0.0.1", 0, 100) == a);
  CHECK(reg.clientCell("10.0.0.2", 0, 100) != a);
  for (int i = 0; i < 10000; ++i)
    reg.clientCell(std::string("h").append(std::to_string(i)), 0, 100);
  CHECK(reg.findClientCell("10.0.0.1") == a);  // in use: kept
  CHECK(reg.findClientCell("h0") == nullptr);  // idle and full: forgotten
}

TEST_CASE("the Redis side's bulk-string integers become integers again, nothing else changes") {
  CHECK(throttleReplyIntegers(
            "*5\r\n:0\r\n$2\r\n11\r\n$19\r\n9223372036854775807\r\n:-1\r\n:0\r\n") ==
        "*5\r\n:0\r\n:11\r\n:9223372036854775807\r\n:-1\r\n:0\r\n");
  const std::string plain = "*5\r\n:0\r\n:16\r\n:15\r\n:-1\r\n:2\r\n";
  CHECK(throttleReplyIntegers(plain) == plain);
  for (std::string_view odd : {"*1\r\n$3\r\nabc\r\n", "*2\r\n$1\r\n1\r\n", "*1\r\n$5\r\n1\r\n",
                               "-ERR x\r\n", "*1\r\n$1\r\n12\r\n", "*1\r\n+OK\r\n", ""}) {
    CHECK(throttleReplyIntegers(odd) == odd);
  }
}

TEST_CASE("GCRA cell: large limits are taken in per-thread batches, never beyond the limit") {
  const GcraRate small = GcraRate::perPeriod(100, kS, 100);
  CHECK(small.batch == 1);  // small limits stay exact per request
  const GcraRate r = GcraRate::perPeriod(1, 3600 * kS, 10000);  // 10000 at once, then 1/h
  CHECK(r.batch == 64);
  GcraCell cell;
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      // More attempts than the limit, so each thread spends its last batch.
      for (int i = 0; i < 20000; ++i)
        if (gcraAdmit(cell, r, kS).allowed)
          admitted.fetch_add(1);
    });
  }
  for (auto& th : threads)
    th.join();
  CHECK(admitted.load() == 10000);
  // A batch is taken only as far as there is room, and refused with a retry time when empty.
  GcraCell c2;
  const GcraRate big = GcraRate::perPeriod(1000, kS, 200);  // batch 3, 1 ms per request
  CHECK(big.batch == 3);
  int n = 0;
  while (gcraAdmit(c2, big, 0).allowed)
    ++n;
  CHECK(n == 200);
  const GcraDecision d = gcraAdmit(c2, big, 0);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after == kMs);
  // Unspent requests of a batch are forgotten after 1 ms: the cell is what counts.
  GcraCell c3;
  CHECK(gcraAdmit(c3, big, 0).allowed);  // takes 3, spends 1
  CHECK(gcraAvailable(big, c3.tat(), 0) == 197);
  CHECK(gcraAdmit(c3, big, 2 * kMs).allowed);  // the batch expired: a new one from the cell
}

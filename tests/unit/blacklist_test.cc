#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <doctest.h>

#include "cache/blacklist_replica.h"
#include "cache/blacklist_sync.h"
#include "fake_requests.h"

namespace kw {
namespace {

using Answer = BlacklistReplica::Answer;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

Answer look(BlacklistReplica& r, std::string_view key, int64_t now,
            std::optional<std::string_view>* v = nullptr) {
  std::optional<std::string_view> ignored;
  return r.lookup(key, now, v ? v : &ignored);
}

TEST_CASE("a replica answers only once complete, and never for a key being fetched") {
  NsCacheCounters counters;
  BlacklistReplica r("bl:", &counters);
  CHECK(look(r, "bl:j1", 0) == Answer::kUnknown);
  const uint64_t g = r.beginFetch("bl:j1");
  r.completeFetch("bl:j1", g, true, true, "1", 5000);
  CHECK(look(r, "bl:j1", 0) == Answer::kUnknown);  // not complete yet
  r.setComplete(true);
  std::optional<std::string_view> v;
  CHECK(look(r, "bl:j1", 0, &v) == Answer::kPresent);
  CHECK(v == "1");
  CHECK(look(r, "bl:j2", 0) == Answer::kAbsent);
  // An invalidation: unknown until the new fetch comes back.
  const uint64_t g2 = r.beginFetch("bl:j2");
  CHECK(look(r, "bl:j2", 0) == Answer::kUnknown);
  r.completeFetch("bl:j2", g2, true, true, "revoked", kNever);
  CHECK(look(r, "bl:j2", 0) == Answer::kPresent);
  CHECK(counters.bl_entries.get() == 2);
  CHECK(look(r, "other:j1", 0) == Answer::kUnknown);  // not this replica's key
}

TEST_CASE("a fetch overtaken by a newer invalidation is ignored") {
  BlacklistReplica r("bl:", nullptr);
  r.setComplete(true);
  const uint64_t old_gen = r.beginFetch("bl:j");
  const uint64_t new_gen = r.beginFetch("bl:j");
  r.completeFetch("bl:j", old_gen, false, false, "", kNever);  // read before the revoke
  CHECK(look(r, "bl:j", 0) == Answer::kUnknown);
  r.completeFetch("bl:j", new_gen, true, true, "1", kNever);
  CHECK(look(r, "bl:j", 0) == Answer::kPresent);
  // A deletion fetched: absent.
  const uint64_t g = r.beginFetch("bl:j");
  r.completeFetch("bl:j", g, false, false, "", kNever);
  CHECK(look(r, "bl:j", 0) == Answer::kAbsent);
  CHECK(r.entries() == 0);
}

TEST_CASE("expiry, another type, clear and FLUSHALL") {
  BlacklistReplica r("bl:", nullptr);
  r.setComplete(true);
  r.completeFetch("bl:a", r.beginFetch("bl:a"), true, true, "1", 100);
  r.completeFetch("bl:h", r.beginFetch("bl:h"), true, false, "", kNever);
  CHECK(look(r, "bl:a", 99) == Answer::kPresent);
  CHECK(look(r, "bl:a", 100) == Answer::kAbsent);
  std::optional<std::string_view> v = "x";
  CHECK(look(r, "bl:h", 0, &v) == Answer::kPresent);
  CHECK_FALSE(v.has_value());
  const uint64_t pending = r.beginFetch("bl:p");
  r.flushed();
  CHECK(r.complete());
  CHECK(look(r, "bl:h", 0) == Answer::kAbsent);
  r.completeFetch("bl:p", pending, true, true, "1", kNever);  // read before the flush: ignored
  CHECK(look(r, "bl:p", 0) == Answer::kAbsent);
  r.completeFetch("bl:z", r.beginFetch("bl:z"), true, true, "1", kNever);
  r.clear();
  CHECK_FALSE(r.complete());
  CHECK(r.entries() == 0);
}

TEST_CASE("memory per entry: at most 64 bytes plus the token id") {
  NsCacheCounters counters;
  BlacklistReplica r("blacklist:access:", &counters);
  const size_t n = 100000;
  const std::string jti = "0b6f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";  // 36 bytes, as a uuid jti
  for (size_t i = 0; i < n; ++i) {
    std::string key = "blacklist:access:" + jti;
    char suffix[16];
    snprintf(suffix, sizeof suffix, "%08zu", i);
    key.replace(key.size() - 8, 8, suffix);
    r.completeFetch(key, r.beginFetch(key), true, true, "1", kNever);
  }
  REQUIRE(r.entries() == n);
  const double per_entry = static_cast<double>(r.bytes()) / static_cast<double>(n);
  MESSAGE("blacklist replica: " << per_entry << " bytes per entry with a " << jti.size()
                                << "-byte token id and a 1-byte value ("
                                << per_entry - static_cast<double>(jti.size())
                                << " besides the id)");
  CHECK(per_entry <= 64.0 + static_cast<double>(jti.size()));
  CHECK(counters.bl_bytes.get() == static_cast<int64_t>(r.bytes()));
}

struct SyncFixture {
  test::FakeRequests req;
  int64_t now = 0;
  CacheStatsShard stats;
  BlacklistSync sync{&req, [this] { return now; }, &stats};
  SyncFixture() {
    std::vector<std::unique_ptr<BlacklistReplica>> reps;
    reps.push_back(std::make_unique<BlacklistReplica>("bl:", &stats.ns[3]));
    sync.setReplicas(
        std::move(reps), [](std::string_view k) { return k.substr(0, 3) == "bl:" ? 0 : -1; },
        false);
  }
  Answer look(std::string_view k) { return kw::look(sync.replica(0), k, now); }
  void fetched(std::string_view key, std::string_view get, std::string_view pttl) {
    REQUIRE(req.answer("GET " + std::string(key), get));
    REQUIRE(req.answer("PTTL " + std::string(key), pttl));
  }
};

TEST_CASE("load: SCAN once the feed is up, each key fetched; complete when all are in") {
  SyncFixture f;
  CHECK(f.req.sent.empty());
  f.sync.onFeedUp();
  REQUIRE(f.req.sent.size() == 1);
  CHECK(f.req.sent[0].command == "SCAN 0 MATCH bl:* COUNT 1000");
  REQUIRE(f.req.answer("SCAN 0 MATCH bl:* COUNT 1000",
                       "*2\r\n$2\r\n17\r\n*2\r\n$4\r\nbl:a\r\n$5\r\nxx:zz\r\n"));
  CHECK(f.req.unanswered("GET") == 1);  // xx:zz is not this namespace's
  REQUIRE(f.req.answer("SCAN 17 MATCH bl:* COUNT 1000", "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nbl:b\r\n"));
  CHECK_FALSE(f.sync.replica(0).complete());
  f.fetched("bl:a", "$1\r\n1\r\n", ":60000\r\n");
  CHECK_FALSE(f.sync.replica(0).complete());
  f.fetched("bl:b", "$1\r\n1\r\n", ":-1\r\n");
  CHECK(f.sync.replica(0).complete());
  CHECK(f.stats.replicas_complete.get() == 1);
  CHECK(f.look("bl:a") == Answer::kPresent);
  CHECK(f.look("bl:zz") == Answer::kAbsent);
  f.now = 60000;  // late bound: the PTTL counted from when its reply came
  CHECK(f.look("bl:a") == Answer::kAbsent);
  CHECK(f.look("bl:b") == Answer::kPresent);
}

TEST_CASE("a key written during the load is fetched again and its newest state wins") {
  SyncFixture f;
  f.sync.onFeedUp();
  REQUIRE(f.req.answer("SCAN 0 MATCH bl:* COUNT 1000", "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nbl:a\r\n"));
  f.sync.onInvalidate("bl:a");              // written meanwhile
  f.fetched("bl:a", "$-1\r\n", ":-2\r\n");  // the load's fetch read before the write
  CHECK(f.sync.replica(0).complete());
  CHECK(f.look("bl:a") == Answer::kUnknown);  // the newer fetch is not in: ask Redis
  f.fetched("bl:a", "$1\r\n1\r\n", ":1000\r\n");
  CHECK(f.look("bl:a") == Answer::kPresent);
}

TEST_CASE("feed down: every replica cleared and not complete; up again: reloaded") {
  SyncFixture f;
  f.sync.onFeedUp();
  REQUIRE(f.req.answer("SCAN 0 MATCH bl:* COUNT 1000", "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nbl:a\r\n"));
  f.fetched("bl:a", "$1\r\n1\r\n", ":-1\r\n");
  REQUIRE(f.look("bl:a") == Answer::kPresent);
  f.sync.onFeedDown();
  CHECK(f.look("bl:a") == Answer::kUnknown);
  CHECK(f.stats.replicas_complete.get() == 0);
  f.sync.onInvalidate("bl:b");  // nothing is asked while down
  CHECK(f.req.unanswered("GET") == 0);
  f.sync.onFeedUp();
  CHECK(f.req.unanswered("SCAN 0") == 1);
}

TEST_CASE("a failed fetch leaves the key unknown and is retried; a failed SCAN is retried") {
  SyncFixture f;
  f.sync.onFeedUp();
  REQUIRE(f.req.answer("SCAN 0 MATCH bl:* COUNT 1000",
                       "-UPSTREAMDOWN upstream 127.0.0.1:1 unavailable (x)\r\n"));
  CHECK_FALSE(f.sync.replica(0).complete());
  f.now += 1000;
  f.sync.tick();
  REQUIRE(f.req.answer("SCAN 0 MATCH bl:* COUNT 1000", "*2\r\n$1\r\n0\r\n*0\r\n"));
  CHECK(f.sync.replica(0).complete());
  f.sync.onInvalidate("bl:x");
  f.fetched("bl:x", "-UPSTREAMDOWN lost\r\n", ":5\r\n");
  CHECK(f.look("bl:x") == Answer::kUnknown);
  f.now += 1000;
  f.sync.tick();
  f.fetched("bl:x", "$1\r\n1\r\n", ":-1\r\n");
  CHECK(f.look("bl:x") == Answer::kPresent);
  // GET and PTTL disagree (deleted in between): asked again, unknown meanwhile.
  f.sync.onInvalidate("bl:x");
  f.fetched("bl:x", "$1\r\n1\r\n", ":-2\r\n");
  CHECK(f.look("bl:x") == Answer::kUnknown);
}

}  // namespace
}  // namespace kw

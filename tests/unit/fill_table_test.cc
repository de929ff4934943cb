#include <thread>
#include <vector>

#include <doctest.h>

#include "pg/fill_table.h"
#include "pg/notify_payload.h"

namespace kw::pg {
namespace {

TEST_CASE("single-flight: the first miss leads, later ones wait, finish hands every waiter over") {
  FillTable t;
  int a, b;
  CHECK(t.join("profile:1", {&a, 1}));
  CHECK_FALSE(t.join("profile:1", {&b, 2}));
  CHECK_FALSE(t.join("profile:1", {&a, 3}));
  CHECK(t.join("profile:2", {&b, 4}));  // another key: its own flight
  CHECK(t.flights() == 2);
  FillTable::Finished f = t.finish("profile:1");
  REQUIRE(f.waiters.size() == 3);
  CHECK(f.waiters[0].id == 1);
  CHECK(f.waiters[1].owner == &b);
  CHECK_FALSE(f.dirty);
  CHECK(t.finish("profile:1").waiters.empty());
  // A miss after the flight ended starts a new one.
  CHECK(t.join("profile:1", {&a, 5}));
}

TEST_CASE("single-flight: many threads, one leader per key") {
  FillTable t;
  std::atomic<int> leaders{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 100; ++k)
        if (t.join(std::string("k").append(std::to_string(k)), {nullptr, static_cast<uint64_t>(i)}))
          leaders.fetch_add(1);
    });
  for (auto& th : threads)
    th.join();
  CHECK(leaders.load() == 100);
  CHECK(t.finish("k7").waiters.size() == 8);
}

TEST_CASE("single-flight: a stage that goes away leaves no waiter behind") {
  FillTable t;
  int a, b;
  t.join("k", {&a, 1});
  t.join("k", {&b, 2});
  t.join("k", {&a, 3});
  CHECK(t.forgetOwner(&a) == 2);
  FillTable::Finished f = t.finish("k");
  REQUIRE(f.waiters.size() == 1);
  CHECK(f.waiters[0].owner == &b);
}

TEST_CASE("single-flight: a notification during the flight marks it dirty") {
  FillTable t;
  t.join("k", {nullptr, 1});
  CHECK_FALSE(t.dirty("k"));
  CHECK(t.invalidate("k"));
  CHECK(t.dirty("k"));
  CHECK(t.finish("k").dirty);
  CHECK_FALSE(t.invalidate("k"));  // no flight any more
}

TEST_CASE("negative cache: remembered for its TTL, forgotten on notification, bounded") {
  FillTable t(2, 10);
  uint64_t now = 1000;
  t.rememberMissing("a", now, 30000);
  CHECK(t.isMissing("a", now + 29999));
  CHECK_FALSE(t.isMissing("a", now + 30000));
  t.rememberMissing("a", now, 30000);
  t.invalidate("a");
  CHECK_FALSE(t.isMissing("a", now));
  t.rememberMissing("x", now, 0);  // negative_ttl_s = 0: never remembered
  CHECK_FALSE(t.isMissing("x", now));
  t.rememberMissing("a", now, 10);
  t.rememberMissing("b", now, 10000);
  t.rememberMissing("c", now + 5, 10000);  // full of live entries: not remembered
  CHECK_FALSE(t.isMissing("c", now + 5));
  t.rememberMissing("c", now + 20, 10000);  // "a" expired: swept to make room
  CHECK(t.isMissing("c", now + 20));
  CHECK(t.negatives() == 2);
}

TEST_CASE("fill record: keys filled before LISTEN came back and not expired yet") {
  FillTable t(10, 3);
  t.recordFill("k1", 100, 400);
  t.recordFill("k2", 200, 500);
  t.recordFill("k3", 300, 600);
  t.recordFill("k4", 350, 650);  // over the bound: the oldest record goes
  CHECK(t.recordsDropped() == 1);
  auto suspects = t.takeFilledBefore(320, 450);  // k1 long gone; k2 still live
  CHECK(suspects == std::vector<std::string>{"k2", "k3"});
  CHECK(t.fillRecords() == 1);
  CHECK(t.takeFilledBefore(1000, 700).empty());  // k4 expired meanwhile
}

TEST_CASE("notify payload: the value itself, or a JSON array for several params") {
  std::vector<std::string> v;
  CHECK(parseNotifyPayload("11111111-2222-3333-4444-555555555555", 1, &v));
  CHECK(v == std::vector<std::string>{"11111111-2222-3333-4444-555555555555"});
  CHECK_FALSE(parseNotifyPayload("", 1, &v));
  CHECK(parseNotifyPayload(R"( ["acme", "4\"2"] )", 2, &v));
  CHECK(v == std::vector<std::string>{"acme", "4\"2"});
  CHECK_FALSE(parseNotifyPayload(R"(["acme"])", 2, &v));
  CHECK_FALSE(parseNotifyPayload(R"(["a","b"] x)", 2, &v));
  CHECK_FALSE(parseNotifyPayload(R"(["a",)", 2, &v));
  CHECK_FALSE(parseNotifyPayload("acme:42", 2, &v));
}

}  // namespace
}  // namespace kw::pg

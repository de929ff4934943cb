#include <string>
#include <vector>

#include <doctest.h>

#include "fake_link.h"
#include "tracking/feed_set.h"

namespace kw {
namespace {

using test::FakeLink;
using test::FakePool;
using test::FakePools;

struct Recorder final : InvalidationConsumer {
  void onInvalidate(std::string_view key) override { keys.emplace_back(key); }
  void onInvalidateAll() override { ++all; }
  void onFeedDown() override { ++down; }
  void onFeedUp() override { ++up; }
  std::vector<std::string> keys;
  int all = 0, down = 0, up = 0;
};

struct Fixture {
  FakePools pools{4};
  std::vector<NodeId> masters{0, 1, 2};
  int64_t now = 1000;
  FeedCounters counters;
  FeedSet::Options options() {
    FeedSet::Options o;
    o.heartbeat_ms = 100;
    o.timeout_ms = 300;
    o.backoff_min_ms = 50;
    o.backoff_max_ms = 400;
    return o;
  }
  FeedSet feeds{&pools, [this]() -> const std::vector<NodeId>& { return masters; },
                [this] { return now; }, options(), &counters};

  FakeLink* link(size_t node) {
    FakePool& p = pools.at(node);
    return p.all.empty() ? nullptr : p.all.back();
  }
  void establish(size_t node) {
    FakeLink* l = link(node);
    REQUIRE(l != nullptr);
    l->owner()->onStreamBytes("+OK\r\n");  // CLIENT SETNAME
    l->owner()->onStreamBytes("+OK\r\n");  // CLIENT TRACKING
  }
};

TEST_CASE("a feed set is covered once every master's feed is, and down as soon as one is not") {
  Fixture f;
  Recorder c;
  f.feeds.subscribe(&c, {"k:"});
  CHECK(f.feeds.nodeCount() == 3);
  for (size_t n = 0; n < 3; ++n) {
    REQUIRE(f.link(n) != nullptr);
    CHECK(f.link(n)->proto() == 3);
  }
  CHECK(f.pools.at(3).created == 0);  // not a master
  f.establish(0);
  f.establish(1);
  CHECK_FALSE(f.feeds.covered());
  CHECK(c.up == 0);
  CHECK(f.feeds.stateName() == "starting 2/3 covered");
  f.establish(2);
  CHECK(f.feeds.covered());
  CHECK(c.up == 1);
  CHECK(f.counters.covered.get() == 1);
  CHECK(f.feeds.stateName() == "covered");

  // Keys from any node reach the consumer.
  f.link(1)->owner()->onStreamBytes(">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nk:1\r\n");
  f.link(2)->owner()->onStreamBytes(">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nk:2\r\n");
  CHECK(c.keys == std::vector<std::string>{"k:1", "k:2"});
  f.link(0)->owner()->onStreamBytes(">2\r\n$10\r\ninvalidate\r\n_\r\n");
  CHECK(c.all == 1);
  CHECK(f.counters.keys.get() == 2);

  // One node lost: the consumer hears it once.
  FakeLink* l1 = f.link(1);
  l1->owner()->onLinkLost(l1);
  CHECK_FALSE(f.feeds.covered());
  CHECK(c.down == 1);
  CHECK(f.counters.covered.get() == 0);
  f.link(2)->owner()->onLinkLost(f.link(2));
  CHECK(c.down == 1);
  // Both come back after the backoff: up once.
  f.now += 50;
  f.feeds.tick();
  f.establish(1);
  CHECK(c.up == 1);
  f.establish(2);
  CHECK(c.up == 2);
  CHECK(f.feeds.covered());
}

TEST_CASE(
    "a feed set follows the masters: a promoted replica gets a feed, and coverage waits for it") {
  Fixture f;
  Recorder c;
  f.feeds.subscribe(&c, {"k:"});
  for (size_t n = 0; n < 3; ++n)
    f.establish(n);
  REQUIRE(c.up == 1);
  FakeLink* old = f.link(2);
  // Node 2 failed over to node 3.
  f.masters = {0, 1, 3};
  f.feeds.tick();
  CHECK(old->closed);
  CHECK(c.down == 1);
  CHECK_FALSE(f.feeds.covered());
  REQUIRE(f.link(3) != nullptr);
  f.establish(3);
  CHECK(c.up == 2);
  CHECK(f.feeds.covered());
  CHECK(f.feeds.nodeCount() == 3);
}

TEST_CASE(
    "a new master whose feed cannot get a link at once: consumers hear it once the set is whole") {
  Fixture f;
  Recorder c;
  f.feeds.subscribe(&c, {"k:"});
  for (size_t n = 0; n < 3; ++n)
    f.establish(n);
  REQUIRE(c.up == 1);
  f.pools.at(3).refuse_new = true;  // the promoted replica refuses connections for now
  f.masters = {0, 1, 3};
  f.feeds.tick();
  CHECK(c.down == 1);
  CHECK_FALSE(f.feeds.covered());
  CHECK(f.feeds.nodeCount() == 3);
  f.pools.at(3).refuse_new = false;
  f.now += 60;  // past the first backoff (50 ms), within the others' silence timeout
  f.feeds.tick();
  f.establish(3);
  CHECK(c.up == 2);
}

TEST_CASE("a feed set with one master is the single feed; consumers leaving close it") {
  Fixture f;
  f.masters = {0};
  f.feeds.tick();
  Recorder a, b;
  f.feeds.subscribe(&a, {"a:"});
  f.feeds.subscribe(&b, {"b:"});
  FakeLink* l = f.link(0);
  REQUIRE(l != nullptr);
  f.establish(0);
  CHECK(a.up == 1);
  CHECK(b.up == 1);
  f.feeds.unsubscribe(&a);
  f.feeds.unsubscribe(&b);
  CHECK_FALSE(f.feeds.covered());
  CHECK(f.feeds.stateName() == "off");
}

}  // namespace
}  // namespace kw

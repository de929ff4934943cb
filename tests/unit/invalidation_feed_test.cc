#include <cstring>
#include <string>
#include <vector>

#include <doctest.h>

#include "fake_link.h"
#include "tracking/invalidation_feed.h"

namespace kw {
namespace {

using test::FakeLink;
using test::FakePool;

struct Recorder final : InvalidationConsumer {
  void onInvalidate(std::string_view key) override { keys.emplace_back(key); }
  void onInvalidateAll() override { ++all; }
  void onFeedDown() override { ++down; }
  void onFeedUp() override { ++up; }
  std::vector<std::string> keys;
  int all = 0, down = 0, up = 0;
};

struct Fixture {
  FakePool pool;
  int64_t now = 1000;
  InvalidationFeed::Options options() {
    InvalidationFeed::Options o;
    o.heartbeat_ms = 100;
    o.timeout_ms = 300;
    o.backoff_min_ms = 50;
    o.backoff_max_ms = 400;
    o.client_name = "feed-test";
    return o;
  }
  InvalidationFeed feed{&pool, [this] { return now; }, options(), nullptr};

  FakeLink* link() { return pool.all.empty() ? nullptr : pool.all.back(); }
  LinkOwner* owner() { return link()->owner(); }
  void deliver(std::string_view frame) { owner()->onStreamBytes(frame); }
  void establish() {
    REQUIRE(link() != nullptr);
    deliver("+OK\r\n");  // CLIENT SETNAME
    deliver("+OK\r\n");  // CLIENT TRACKING
    REQUIRE(feed.covered());
  }
};

std::string tracking(std::initializer_list<const char*> prefixes) {
  std::string s = std::string("*").append(std::to_string(4 + 2 * prefixes.size())) +
                  "\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non\r\n$5\r\nBCAST\r\n";
  for (const char* p : prefixes)
    s += "$6\r\nPREFIX\r\n$" + std::to_string(strlen(p)) + "\r\n" + p + "\r\n";
  return s;
}

TEST_CASE("the feed asks for non-overlapping prefixes on a RESP3 link and is covered on +OK") {
  Fixture f;
  Recorder cache, blacklist;
  f.feed.subscribe(&cache, {"user:id:", "profile:"});
  f.feed.subscribe(&blacklist, {"blacklist:access:", "user:"});
  FakeLink* link = f.link();
  REQUIRE(link);
  CHECK(link->proto() == 3);
  CHECK(link->mode() == LinkMode::kStreaming);
  const std::string sent = link->sent.back();
  CHECK(sent == "*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$9\r\nfeed-test\r\n" +
                    tracking({"blacklist:access:", "profile:", "user:"}));
  CHECK_FALSE(f.feed.covered());
  f.deliver("+OK\r\n");
  CHECK_FALSE(f.feed.covered());
  f.deliver("+OK\r\n");
  CHECK(f.feed.covered());
  CHECK(cache.up == 1);
  CHECK(blacklist.up == 1);

  // Each consumer gets the keys under its own prefixes.
  f.deliver(">2\r\n$10\r\ninvalidate\r\n*3\r\n$9\r\nuser:id:7\r\n$9\r\nprofile:1\r\n$"
            "19\r\nblacklist:access:j1\r\n");
  CHECK(cache.keys == std::vector<std::string>{"user:id:7", "profile:1"});
  CHECK(blacklist.keys == std::vector<std::string>{"user:id:7", "blacklist:access:j1"});
  f.deliver(">2\r\n$10\r\ninvalidate\r\n_\r\n");
  CHECK(cache.all == 1);
  CHECK(blacklist.all == 1);
}

TEST_CASE("heartbeats: a PING every heartbeat_ms; silence past the timeout loses the feed") {
  Fixture f;
  Recorder c;
  f.feed.subscribe(&c, {"k:"});
  f.establish();
  FakeLink* link = f.link();
  const size_t before = link->sent.size();
  f.now += 100;
  f.feed.tick();
  REQUIRE(link->sent.size() == before + 1);
  CHECK(link->sent.back() == "*1\r\n$4\r\nPING\r\n");
  f.deliver("+PONG\r\n");
  CHECK(f.feed.covered());
  f.now += 250;  // heard 250 ms ago: still fine
  f.feed.tick();
  CHECK(f.feed.covered());
  f.now += 60;  // 310 ms of silence
  f.feed.tick();
  CHECK_FALSE(f.feed.covered());
  CHECK(c.down == 1);
  CHECK(link->closed);  // released: a streaming link is never pooled
  // It comes back after the backoff, on a new link.
  f.feed.tick();
  CHECK(f.pool.created == 1);
  f.now += 50;
  f.feed.tick();
  REQUIRE(f.pool.created == 2);
  f.establish();
  CHECK(c.up == 2);
}

TEST_CASE("a lost connection, an unexpected reply, a refused TRACKING and a bad push all lose it") {
  Fixture f;
  Recorder c;
  f.feed.subscribe(&c, {"k:"});
  f.establish();

  SUBCASE("connection lost") {
    LinkOwner* o = f.owner();
    f.link()->owner();
    o->onLinkLost(f.link());
  }
  SUBCASE("a reply nobody asked for (Redis 7.0's second reply to overlapping prefixes)") {
    f.deliver("+OK\r\n");
  }
  SUBCASE("a malformed invalidation") {
    f.deliver(">2\r\n$10\r\ninvalidate\r\n*2\r\n$1\r\na\r\n");
  }
  SUBCASE("a heartbeat answered with an error (LOADING)") {
    f.now += 100;
    f.feed.tick();
    f.deliver("-LOADING Redis is loading the dataset in memory\r\n");
  }
  CHECK_FALSE(f.feed.covered());
  CHECK(c.down == 1);
}

TEST_CASE("CLIENT TRACKING refused: not covered, retried with backoff") {
  Fixture f;
  Recorder c;
  f.feed.subscribe(&c, {"k:"});
  f.deliver("+OK\r\n");
  f.deliver("-ERR Prefix 'k:' overlaps\r\n");
  CHECK_FALSE(f.feed.covered());
  CHECK(c.up == 0);
  CHECK(c.down == 1);
  f.now += 49;
  f.feed.tick();
  CHECK(f.pool.created == 1);
  f.now += 1;
  f.feed.tick();
  CHECK(f.pool.created == 2);
  // The next failure waits twice as long.
  f.deliver("+OK\r\n");
  f.deliver("-ERR no\r\n");
  f.now += 99;
  f.feed.tick();
  CHECK(f.pool.created == 2);
  f.now += 1;
  f.feed.tick();
  CHECK(f.pool.created == 3);
}

TEST_CASE("a change of the prefix set restarts the feed; the same set does not") {
  Fixture f;
  Recorder c;
  f.feed.subscribe(&c, {"a:"});
  f.establish();
  f.feed.subscribe(&c, {"a:"});
  CHECK(f.feed.covered());
  CHECK(f.pool.created == 1);
  f.feed.subscribe(&c, {"a:", "a:b"});  // same non-overlapping set
  CHECK(f.feed.covered());
  f.feed.subscribe(&c, {"a:", "b:"});
  CHECK_FALSE(f.feed.covered());
  CHECK(c.down == 1);
  REQUIRE(f.pool.created == 2);
  CHECK(f.link()->sent.back().find(tracking({"a:", "b:"})) != std::string::npos);
  f.establish();
  // No prefixes left: off, no link.
  f.feed.unsubscribe(&c);
  CHECK_FALSE(f.feed.covered());
  CHECK(f.link()->closed);
  f.now += 10000;
  f.feed.tick();
  CHECK(f.pool.created == 2);
}

TEST_CASE("frames of a link being dropped are ignored") {
  Fixture f;
  Recorder c;
  f.feed.subscribe(&c, {"k:"});
  f.establish();
  LinkOwner* o = f.owner();
  f.now += 1000;
  f.feed.tick();  // silence: lost
  o->onStreamBytes(">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nk:1\r\n");
  CHECK(c.keys.empty());
}

}  // namespace
}  // namespace kw

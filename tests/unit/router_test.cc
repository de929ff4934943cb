// Which link each request goes to, the ordering gate, pinning and release, driven through fake
// links that record what they were sent.
#include "proxy/router.h"

#include <doctest.h>

#include "fake_link.h"

using kw::ReplyShape;
using kw::ReplySlot;
using kw::RequestShape;
using kw::Router;
using kw::test::FakeClient;
using kw::test::FakeLink;
using kw::test::FakePool;
using kw::test::FakePools;

namespace {

RequestShape one() {
  return RequestShape{};
}
RequestShape own(bool blocking = false) {
  RequestShape s;
  s.own_link = true;
  s.blocking = blocking;
  return s;
}

// What the session does when a reply arrives for one of its requests.
void reply(Router& r, FakeLink* link) {
  ReplySlot* s = link->answer();
  if (s && s->upstream) {
    s->upstream = false;
    r.onReplyDelivered(s->lane, s->slot_local);
  }
  r.onLinkReply(link);
}

struct Fixture {
  FakePools pools{3};
  FakePool& pool = pools.at(0);
  FakeClient client;
  Router router{&client};
  ReplySlot slots[16];
  int next = 0;
  Fixture() { router.setPool(&pools); }
  ReplySlot* slot() { return &slots[next++]; }
  bool send(std::string_view raw, const RequestShape& shape = RequestShape{}) {
    std::string cause;
    return router.send(raw, slot(), shape, &cause);
  }
};

}  // namespace

TEST_CASE("a stateless request goes to the shared link of the client's protocol") {
  Fixture f;
  REQUIRE(f.send("GET a"));
  REQUIRE(f.pool.shared2 != nullptr);
  CHECK(f.pool.shared2->sent == std::vector<std::string>{"GET a"});
  f.router.setProto(3);
  reply(f.router, f.pool.shared2);
  REQUIRE(f.send("GET b"));
  REQUIRE(f.pool.shared3 != nullptr);
  CHECK(f.pool.shared3->sent == std::vector<std::string>{"GET b"});
}

TEST_CASE("reply-count rule: only a one-frame request may share a link") {
  Fixture f;
  for (ReplyShape shape : {ReplyShape::kLocal, ReplyShape::kStream, ReplyShape::kRaw}) {
    RequestShape s;
    s.shape = shape;
    std::string cause;
    CHECK_FALSE(f.router.send("UNSUBSCRIBE x y z", f.slot(), s, &cause));
    CHECK(cause.find("one frame") != std::string::npos);
  }
  CHECK((f.pool.shared2 == nullptr || f.pool.shared2->sent.empty()));
}

TEST_CASE("a blocking request pins a link for its duration, then the link goes back") {
  Fixture f;
  REQUIRE(f.send("BLPOP q 0", own(true)));
  FakeLink* pinned = static_cast<FakeLink*>(f.router.pinned());
  REQUIRE(pinned != nullptr);
  CHECK(pinned->sent == std::vector<std::string>{"BLPOP q 0"});
  // Pipelined behind it: same link, so the client's requests run in order.
  REQUIRE(f.send("GET a"));
  CHECK(pinned->sent.size() == 2);
  reply(f.router, pinned);
  CHECK(f.router.pinned() == pinned);  // GET still owed
  reply(f.router, pinned);
  CHECK(f.router.pinned() == nullptr);
  REQUIRE(f.pool.released.size() == 1);
  CHECK(f.pool.released[0] == pinned);
  CHECK(pinned->resets == 0);  // nothing left on it: back to the pool as it is
}

TEST_CASE("a request that leaves state on a pinned link makes it RESET before reuse") {
  Fixture f;
  std::string cause;
  REQUIRE(f.router.hold(Router::kHoldDb, &cause));
  kw::RequestShape select;
  select.leaves_state = true;
  REQUIRE(f.send("SELECT 3", select));
  FakeLink* pinned = static_cast<FakeLink*>(f.router.pinned());
  REQUIRE(pinned != nullptr);
  CHECK(pinned->stateful());
  reply(f.router, pinned);
  f.router.drop(Router::kHoldDb);
  REQUIRE(f.pool.released.size() == 1);
  CHECK(pinned->resets == 1);
}

TEST_CASE("ordering gate: a request for another link waits until owed replies are in") {
  Fixture f;
  REQUIRE(f.send("SET a 1"));
  FakeLink* shared = f.pool.shared2;
  std::string cause;
  REQUIRE(f.router.hold(Router::kHoldMulti, &cause));
  REQUIRE(f.send("MULTI"));
  FakeLink* pinned = static_cast<FakeLink*>(f.router.pinned());
  CHECK(pinned->sent.empty());  // waits for SET's reply
  CHECK(f.router.waiting());
  reply(f.router, shared);
  CHECK(pinned->sent == std::vector<std::string>{"MULTI"});
  CHECK_FALSE(f.router.waiting());
}

TEST_CASE("MULTI: every request goes to the pinned link until the hold is dropped") {
  Fixture f;
  std::string cause;
  REQUIRE(f.router.hold(Router::kHoldMulti, &cause));
  REQUIRE(f.send("MULTI"));
  REQUIRE(f.send("SET a 1"));
  REQUIRE(f.send("EXEC"));
  FakeLink* pinned = static_cast<FakeLink*>(f.router.pinned());
  CHECK(pinned->sent.size() == 3);
  f.router.drop(Router::kHoldMulti);
  CHECK(f.router.pinned() == pinned);  // replies still owed
  reply(f.router, pinned);
  reply(f.router, pinned);
  reply(f.router, pinned);
  CHECK(f.router.pinned() == nullptr);
  CHECK(f.pool.released.size() == 1);
}

TEST_CASE("RESET answered locally mid-transaction: the link goes back marked for a reset") {
  // Regression: MULTI stayed open upstream and the next client of the link got +QUEUED.
  Fixture f;
  std::string cause;
  REQUIRE(f.router.hold(Router::kHoldMulti, &cause));
  REQUIRE(f.send("MULTI"));
  FakeLink* pinned = static_cast<FakeLink*>(f.router.pinned());
  reply(f.router, pinned);
  CHECK_FALSE(pinned->stateful());
  f.router.abandonHolds();
  CHECK(f.router.pinned() == nullptr);
  REQUIRE(f.pool.released.size() == 1);
  CHECK(pinned->resets == 1);
}

TEST_CASE("a client that leaves mid-transaction releases its link through the pool's rule") {
  Fixture f;
  std::string cause;
  REQUIRE(f.router.hold(Router::kHoldMulti, &cause));
  REQUIRE(f.send("MULTI"));
  REQUIRE(f.send("SET fromA 1"));
  FakeLink* pinned = static_cast<FakeLink*>(f.router.pinned());
  std::vector<ReplySlot*> unsent;
  f.router.detach(&unsent);
  REQUIRE(f.pool.released.size() == 1);
  CHECK(pinned->resets == 1);
  // Until its reset is checked, nobody else can have it.
  FakeClient other;
  std::string why;
  kw::UpstreamLink* got = f.pool.acquire(2, &other, &why);
  CHECK(got != pinned);
}

TEST_CASE("follow-ups go right behind their request, on the same link") {
  Fixture f;
  REQUIRE(f.send("HSET h f v"));
  f.router.sendDropped("EXPIRE h 10 NX", 1);
  CHECK(f.pool.shared2->sent == std::vector<std::string>{"HSET h f v", "EXPIRE h 10 NX"});
  std::string cause;
  REQUIRE(f.router.hold(Router::kHoldDb, &cause));
  reply(f.router, f.pool.shared2);
  reply(f.router, f.pool.shared2);
  REQUIRE(f.send("SET k v"));
  f.router.sendDropped("EXPIRE k 10 NX", 1);
  auto* pinned = static_cast<FakeLink*>(f.router.pinned());
  CHECK(pinned->sent == std::vector<std::string>{"SET k v", "EXPIRE k 10 NX"});
}

TEST_CASE("a lost pinned link orphans what waited for it and clears every hold") {
  Fixture f;
  REQUIRE(f.send("GET a"));
  std::string cause;
  REQUIRE(f.router.hold(Router::kHoldWatch, &cause));
  ReplySlot* waiting = f.slot();
  REQUIRE(f.router.send("WATCH k", waiting, one(), &cause));
  auto* pinned = static_cast<FakeLink*>(f.router.pinned());
  CHECK(pinned->sent.empty());
  pinned->up = false;
  std::vector<ReplySlot*> orphans;
  f.router.onLinkLost(pinned, &orphans);
  CHECK(orphans == std::vector<ReplySlot*>{waiting});
  CHECK(f.router.holds() == 0);
  CHECK(f.router.pinned() == nullptr);
}

TEST_CASE("a request whose link went down while it waited is failed, not lost") {
  Fixture f;
  REQUIRE(f.send("BLPOP q 1", own(true)));
  auto* pinned = static_cast<FakeLink*>(f.router.pinned());
  REQUIRE(f.router.pinned() != nullptr);
  ReplySlot* later = f.slot();
  std::string cause;
  // Not pinned by a hold: once BLPOP is answered the next request goes to the shared link,
  // which is down by then.
  REQUIRE(f.router.send("GET a", later, one(), &cause));
  CHECK(pinned->sent.size() == 2);
  reply(f.router, pinned);
  reply(f.router, pinned);
  std::string why;
  f.pool.shared(2, &why);
  f.pool.shared2->up = false;
  ReplySlot* s = f.slot();
  CHECK_FALSE(f.router.send("GET b", s, one(), &why));
}

TEST_CASE("streaming: the pinned link streams, later requests follow it, RESET is expected") {
  Fixture f;
  std::string cause;
  REQUIRE(f.router.startStream("SUBSCRIBE c", &cause));
  auto* pinned = static_cast<FakeLink*>(f.router.pinned());
  CHECK(pinned->mode() == kw::LinkMode::kStreaming);
  f.router.sendStream("PING");
  f.router.expectStreamReset("kw-token");
  CHECK(pinned->sent == std::vector<std::string>{"SUBSCRIBE c", "PING"});
  CHECK(pinned->reset_expected);
  CHECK(pinned->reset_token == "kw-token");
  CHECK(f.router.streaming());
}

TEST_CASE("SYNC needs a fresh link: refused over existing state") {
  Fixture f;
  std::string cause;
  REQUIRE(f.router.hold(Router::kHoldDb, &cause));
  CHECK_FALSE(f.router.startRaw("SYNC", &cause));
  f.router.drop(Router::kHoldDb);
  REQUIRE(f.router.startRaw("SYNC", &cause));
  auto* pinned = static_cast<FakeLink*>(f.router.pinned());
  f.router.sendRaw("REPLCONF ACK 0");
  CHECK(pinned->mode() == kw::LinkMode::kRaw);
  CHECK(pinned->sent == std::vector<std::string>{"SYNC", "REPLCONF ACK 0"});
}

TEST_CASE("no link can be had: the request is refused with the cause, nothing is sent") {
  Fixture f;
  f.pool.refuse_new = true;
  std::string cause;
  CHECK_FALSE(f.router.send("BLPOP q 0", f.slot(), own(true), &cause));
  CHECK(cause == "no file descriptors");
  CHECK_FALSE(f.router.hold(Router::kHoldMulti, &cause));
}

TEST_CASE(
    "a link stuck behind a busy head: clients with nothing in flight move, others keep order") {
  Fixture idle;     // will have nothing in flight on the shared link when it gets stuck
  Fixture waiting;  // will have its script in flight there
  waiting.router.setPool(&idle.pools);
  REQUIRE(idle.send("GET a"));
  FakeLink* shared = idle.pool.shared2;
  reply(idle.router, shared);
  REQUIRE(waiting.send("EVAL busy"));
  CHECK(waiting.pool.shared2 == nullptr);  // (it uses idle's pool: one shared link for both)
  shared->stuck = true;                    // its head (the script) is older than the threshold
  REQUIRE(idle.send("PING"));
  REQUIRE(idle.pool.spare != nullptr);
  CHECK(idle.pool.spare->sent == std::vector<std::string>{"PING"});
  // The client still waiting on the stuck link stays there: its next request runs after its
  // first, as it sent them.
  REQUIRE(waiting.send("GET b"));
  CHECK(shared->sent == std::vector<std::string>{"GET a", "EVAL busy", "GET b"});
  CHECK(idle.pool.spare->sent.size() == 1);
}

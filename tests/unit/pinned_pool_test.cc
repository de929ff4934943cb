// The clean-state rule: a pinned link another client used is handed out again only after its
// reset (RESET + handshake, every reply checked) succeeded, or when nothing that leaves state was
// ever sent on it; otherwise it is closed.
#include "proxy/pinned_pool.h"

#include <doctest.h>

#include "fake_link.h"

using kw::LinkMode;
using kw::UpstreamLink;
using kw::test::FakeClient;
using kw::test::FakeLink;
using kw::test::FakePool;

namespace {

FakeLink* take(FakePool& pool, FakeClient& owner, int proto = 2) {
  std::string cause;
  return static_cast<FakeLink*>(pool.acquire(proto, &owner, &cause));
}

}  // namespace

TEST_CASE("a released link is not handed out until its reset checks out") {
  FakePool pool;
  FakeClient a, b;
  FakeLink* l = take(pool, a);
  REQUIRE(l != nullptr);
  CHECK(l->owner() == &a);
  l->markStateful();  // e.g. a SELECT ran on it
  pool.release(l);
  CHECK(l->resets == 1);
  CHECK(l->owner() == nullptr);
  FakeLink* other = take(pool, b);
  CHECK(other != l);
  pool.pinned.onResetDone(l, true);
  other->markStateful();
  pool.release(other);
  pool.pinned.onResetDone(other, true);
  CHECK(take(pool, b) == other);  // most recently pooled first
  CHECK(take(pool, b) == l);
}

TEST_CASE("a link that carried nothing stateful goes back as it is, without a reset") {
  FakePool pool;
  FakeClient a, b;
  FakeLink* l = take(pool, a);
  l->send("GET k", nullptr, false);
  l->answer();
  l->read_paused = true;  // its client was not reading
  pool.release(l);
  CHECK(l->resets == 0);
  CHECK_FALSE(l->closed);
  CHECK_FALSE(l->read_paused);
  CHECK(pool.pinned.idleCount() == 1);
  CHECK(take(pool, b) == l);
}

TEST_CASE("a failed reset closes the link") {
  FakePool pool;
  FakeClient a;
  FakeLink* l = take(pool, a);
  l->markStateful();
  pool.release(l);
  pool.pinned.onResetDone(l, false);
  CHECK(l->closed);
  CHECK(pool.pinned.idleCount() == 0);
}

TEST_CASE("links whose state RESET cannot be trusted to clear are closed, never reset") {
  SUBCASE("a blocked command in flight: RESET would wait behind it") {
    FakePool pool;
    FakeClient a;
    FakeLink* l = take(pool, a);
    l->send("BLPOP q 0", nullptr, true);
    pool.release(l);
    CHECK(l->closed);
    CHECK(l->resets == 0);
  }
  SUBCASE("a replication link") {
    FakePool pool;
    FakeClient a;
    FakeLink* l = take(pool, a);
    l->startRaw("SYNC");
    pool.release(l);
    CHECK(l->closed);
  }
  SUBCASE("a streaming link (pub/sub, MONITOR, tracking)") {
    FakePool pool;
    FakeClient a;
    FakeLink* l = take(pool, a);
    l->startStreaming("SUBSCRIBE c");
    pool.release(l);
    CHECK(l->closed);
  }
  SUBCASE("a broken link") {
    FakePool pool;
    FakeClient a;
    FakeLink* l = take(pool, a);
    l->up = false;
    pool.release(l);
    CHECK(l->closed);
  }
  SUBCASE("while the worker drains") {
    FakePool pool;
    FakeClient a;
    FakeLink* l = take(pool, a);
    pool.draining = true;
    pool.release(l);
    CHECK(l->closed);
  }
}

TEST_CASE("the pool keeps at most max_idle links") {
  FakePool pool;  // max 4
  FakeClient a;
  std::vector<FakeLink*> links;
  for (int i = 0; i < 6; ++i)
    links.push_back(take(pool, a));
  for (FakeLink* l : links) {
    l->markStateful();
    pool.release(l);
  }
  int closed = 0;
  for (FakeLink* l : links)
    closed += l->closed ? 1 : 0;
  CHECK(closed == 2);
  CHECK(pool.pinned.resettingCount() == 4);
}

TEST_CASE("a link that went bad while idle is skipped and closed") {
  FakePool pool;
  FakeClient a;
  FakeLink* l = take(pool, a);
  pool.release(l);
  pool.pinned.onResetDone(l, true);
  l->up = false;
  FakeLink* fresh = take(pool, a);
  CHECK(fresh != l);
  CHECK(l->closed);
}

TEST_CASE("links are pooled per protocol: a reset restores the link's own") {
  FakePool pool;
  FakeClient a;
  FakeLink* l3 = take(pool, a, 3);
  pool.release(l3);
  pool.pinned.onResetDone(l3, true);
  CHECK(take(pool, a, 2) != l3);
  CHECK(take(pool, a, 3) == l3);
}

TEST_CASE("links opened ahead of time are handed out first, none beyond max_idle") {
  FakePool pool;  // max 4
  pool.pinned.prewarm(2, 2);
  CHECK(pool.pinned.idleCount() == 2);
  CHECK(pool.created == 2);
  pool.pinned.prewarm(2, 10);
  CHECK(pool.pinned.idleCount() == 4);
  FakeClient a;
  take(pool, a);
  CHECK(pool.created == 4);  // from the idle list, no new link
}

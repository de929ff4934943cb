// A fake upstream link and pool for the router and pinned-pool tests: they record what they
// were sent and let a test deliver replies or failures by hand.
#pragma once

#include <deque>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/pinned_pool.h"
#include "proxy/reply_slot.h"
#include "proxy/router.h"
#include "proxy/upstream_link.h"

namespace kw::test {

class FakeLink final : public UpstreamLink {
public:
  explicit FakeLink(std::string name, int proto = 2) : name(std::move(name)), proto_(proto) {}

  bool accepting() const override { return up && !closed; }
  const std::string& downCause() const override { return cause; }
  int proto() const override { return proto_; }
  size_t inflight() const override { return waiting.size() + dropped; }
  bool blockingInFlight() const override { return blocking_inflight > 0; }
  int64_t upstreamId() const override { return 42; }
  LinkMode mode() const override { return mode_; }
  uint64_t headSinceNs() const override { return head_since; }
  size_t queuedBytes() const override { return 0; }
  void pauseReading(bool paused) override { read_paused = paused; }
  bool quietHandshake() const override { return quiet; }
  void markStateful() override { stateful_ = true; }
  bool stateful() const override { return stateful_; }
  void send(std::string_view raw, ReplySlot* slot, bool blocking) override {
    sent.emplace_back(raw);
    waiting.push_back(slot);
    if (blocking)
      ++blocking_inflight;
  }
  void sendDropped(std::string_view raw, uint32_t count) override {
    sent.emplace_back(raw);
    dropped += count;
  }
  void startStreaming(std::string_view raw) override {
    mode_ = LinkMode::kStreaming;
    sent.emplace_back(raw);
  }
  void sendStreaming(std::string_view raw) override { sent.emplace_back(raw); }
  void expectStreamReset(std::string_view token) override {
    reset_expected = true;
    reset_token.assign(token);
  }
  void startRaw(std::string_view raw) override {
    mode_ = LinkMode::kRaw;
    sent.emplace_back(raw);
  }
  void sendRaw(std::string_view bytes) override { sent.emplace_back(bytes); }
  void setProto(int proto) override { proto_ = proto; }
  void setOwner(LinkOwner* o) override { owner_ = o; }
  LinkOwner* owner() const override { return owner_; }
  void beginReset() override {
    ++resets;
    stateful_ = false;
  }
  void close(std::string_view why) override {
    closed = true;
    cause.assign(why);
  }

  // The reply to the oldest request in flight: returns its slot (nullptr for a dropped one).
  ReplySlot* answer() {
    if (dropped > 0) {
      --dropped;
      return nullptr;
    }
    ReplySlot* s = waiting.front();
    waiting.erase(waiting.begin());
    if (blocking_inflight > 0)
      --blocking_inflight;
    return s;
  }

  std::string name;
  std::vector<std::string> sent;
  std::vector<ReplySlot*> waiting;
  uint32_t dropped = 0;
  int blocking_inflight = 0;
  int resets = 0;
  uint64_t head_since = 0;
  bool stuck = false;  // FakePool::stuck answers this
  bool read_paused = false;
  bool stateful_ = false;
  bool quiet = false;
  bool up = true;
  bool closed = false;
  bool reset_expected = false;
  std::string reset_token;
  std::string cause = "down";

private:
  int proto_;
  LinkMode mode_ = LinkMode::kFramed;
  LinkOwner* owner_ = nullptr;
};

// Hands out FakeLinks; release() applies the real clean-state rule through a PinnedPool.
class FakePool final : public LinkPool, private PinnedPool::Factory {
public:
  FakePool() : pinned(this, 4) {}
  ~FakePool() {
    for (FakeLink* l : all)
      delete l;
  }
  // The shared link of `proto`, or the spare while that one is stuck.
  UpstreamLink* shared(int proto, std::string* cause) override {
    FakeLink*& main = proto >= 3 ? shared3 : shared2;
    if (!main) {
      main = new FakeLink(proto >= 3 ? "shared3" : "shared2", proto);
      all.push_back(main);
    }
    FakeLink* s = main;
    if (main->stuck) {
      if (!spare) {
        spare = new FakeLink("spare", proto);
        all.push_back(spare);
      }
      s = spare;
    }
    if (!s->accepting()) {
      *cause = s->downCause();
      return nullptr;
    }
    return s;
  }
  bool stuck(const UpstreamLink* link) const override {
    return static_cast<const FakeLink*>(link)->stuck;
  }
  UpstreamLink* acquire(int proto, LinkOwner* owner, std::string* cause) override {
    return pinned.acquire(proto, owner, cause);
  }
  void release(UpstreamLink* link) override {
    released.push_back(static_cast<FakeLink*>(link));
    pinned.release(link, draining);
  }
  UpstreamLink* createPinned(int proto, std::string* cause) override {
    if (refuse_new) {
      *cause = "no file descriptors";
      return nullptr;
    }
    auto* l = new FakeLink("pinned" + std::to_string(++created), proto);
    all.push_back(l);
    return l;
  }

  PinnedPool pinned;
  FakeLink* shared2 = nullptr;
  FakeLink* shared3 = nullptr;
  FakeLink* spare = nullptr;
  std::vector<FakeLink*> all;
  std::vector<FakeLink*> released;
  int created = 0;
  bool draining = false;
  bool refuse_new = false;
};

// Nodes' FakePools for the router: node 0 is the one keyless requests go to; `gone` nodes have
// no pool.
class FakePools final : public LinkPools {
public:
  explicit FakePools(size_t nodes = 1) : pools_(nodes) {}
  NodeId resolve(NodeId node) const override { return node == kAnyNode ? 0 : node; }
  LinkPool* pool(NodeId node, std::string* cause) override {
    node = resolve(node);
    if (node >= pools_.size() || gone.count(node) != 0) {
      *cause = "no such node";
      return nullptr;
    }
    return &pools_[node];
  }
  FakePool& at(size_t node) { return pools_[node]; }
  std::set<NodeId> gone;

private:
  std::deque<FakePool> pools_;
};

// Records what the router tells its client.
class FakeClient final : public RouteClient {
public:
  void onStreamBytes(std::string_view bytes) override { stream.emplace_back(bytes); }
  void onStreamEnded(UpstreamLink*) override { ++stream_ended; }
  void onLinkReply(UpstreamLink*) override {}
  void onLinkLost(UpstreamLink*) override { ++lost; }
  void failUnsent(ReplySlot* slot, std::string_view why) override {
    unsent.push_back(slot);
    unsent_cause.assign(why);
  }
  uint64_t ownerId() const override { return 7; }

  std::vector<std::string> stream;
  std::vector<ReplySlot*> unsent;
  std::string unsent_cause;
  int stream_ended = 0;
  int lost = 0;
};

}  // namespace kw::test

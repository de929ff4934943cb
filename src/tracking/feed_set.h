// Invalidations from every master: one InvalidationFeed per master node (a cluster has several,
// one Redis or a Sentinel-managed master has one), presented to consumers as one feed. Redis
// reports a write only to tracking connections of the node that took it, so a consumer is covered
// only while every master's feed is:
//
//   node feeds                         consumers hear
//   the last one becomes covered       onFeedUp (once)
//   any one is lost                    onFeedDown (once, while they were all covered)
//   a key invalidated on any node      onInvalidate (from that node's feed, by prefix as before)
//   FLUSHALL/FLUSHDB on any node       onInvalidateAll
//   the masters change (a failover,    feeds of nodes that are no longer masters are closed, new
//   a node added)                      masters get one; until it is covered: onFeedDown
//
// Coarse on purpose: a cache could keep what it read from the masters still covered, but it would
// have to know which node each entry came from; one outage of any master flushes everything,
// which is what the single-Redis feed does for an outage of that Redis.
//
// Same interface as InvalidationFeed; everything runs on the worker's loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxy/node_id.h"
#include "tracking/invalidation_feed.h"

namespace kw {

class LinkPools;

class FeedSet final {
public:
  using Masters = std::function<const std::vector<NodeId>&()>;  // the current masters
  using Options = InvalidationFeed::Options;
  using Clock = InvalidationFeed::Clock;

  // Links of each master's feed come from `pools->pool(master)`. `counters` (may be null) sums
  // the node feeds' keys, flushes, losses and establishments; its `covered` is 1 while every
  // master is covered.
  FeedSet(LinkPools* pools, Masters masters, Clock clock, Options options, FeedCounters* counters);
  FeedSet(const FeedSet&) = delete;
  FeedSet& operator=(const FeedSet&) = delete;
  ~FeedSet();

  void subscribe(InvalidationConsumer* consumer, std::vector<std::string> prefixes);
  void unsubscribe(InvalidationConsumer* consumer);
  // The node feeds' ticks, and the set of masters brought up to date.
  void tick();
  void setOptions(Options options);

  bool covered() const { return covered_; }
  const std::vector<std::string>& prefixes() const;
  // "covered", or the state of the first master's feed that is not ("waiting 2/3 covered").
  std::string stateName() const;
  const std::string& lastCause() const;
  // The first master's feed's connection id (one Redis: the feed's).
  int64_t upstreamId() const;
  size_t nodeCount() const { return nodes_.size(); }

private:
  struct Node;
  // One consumer as seen by one node's feed: keys pass through, coverage changes are pooled.
  class Relay final : public InvalidationConsumer {
  public:
    Relay(FeedSet* set, InvalidationConsumer* target) : set_(set), target_(target) {}
    void onInvalidate(std::string_view key) override { target_->onInvalidate(key); }
    void onInvalidateAll() override { target_->onInvalidateAll(); }
    void onFeedDown() override { set_->recheck(); }
    void onFeedUp() override { set_->recheck(); }
    InvalidationConsumer* target() const { return target_; }

  private:
    FeedSet* set_;
    InvalidationConsumer* target_;
  };
  struct Subscriber {
    InvalidationConsumer* consumer;
    std::vector<std::string> prefixes;
  };
  struct Node {
    NodeId id;
    std::unique_ptr<InvalidationFeed> feed;
    std::vector<std::unique_ptr<Relay>> relays;  // one per subscriber, same order
  };

  void syncMasters();
  std::unique_ptr<Node> makeNode(NodeId id);
  // Every consumer hears a change of the combined coverage, once.
  void recheck();

  LinkPools* pools_;
  Masters masters_;
  Clock clock_;
  Options options_;
  FeedCounters* counters_;
  FeedCounters own_counters_;
  std::vector<Subscriber> subscribers_;
  std::vector<std::unique_ptr<Node>> nodes_;
  bool covered_ = false;
  bool rechecking_ = false;
};

}  // namespace kw

// The invalidation feed: one Redis connection with server-assisted client caching in broadcast
// mode (RESP3, `CLIENT TRACKING on BCAST PREFIX p1 PREFIX p2 ...`), telling its consumers which
// keys under their prefixes were written, expired, evicted or deleted, by anyone: through this
// keywarden, another one, or a client of Redis directly. Consumers: the near cache, the blacklist
// replicas, and (issue 11) the memory-budget enforcer, which needs every written key of a
// budgeted prefix: BCAST reports every write under a prefix, whether or not the key was read.
//
// Life of the feed:
//   waiting -> acquire a RESP3 pinned link -> CLIENT SETNAME <name>; CLIENT TRACKING on BCAST
//   PREFIX ... -> its +OK: covered (consumers: onFeedUp) -> invalidation pushes, PING heartbeats
//   -> lost (link closed or killed, Redis restarted, a malformed or unexpected frame, or nothing
//   heard for timeout_ms): consumers hear onFeedDown at once, the link is dropped, and the feed
//   starts again after a backoff.
// While not covered, a consumer must assume it missed invalidations: whatever it holds that
// depends on the feed is stale (the near cache flushes; the blacklist replica stops answering).
//
// Prefixes: each consumer names the prefixes it needs; the feed asks Redis for the smallest
// non-overlapping set that covers them all (tracking_frames.h) and gives each consumer only the
// keys under its own prefixes. A change of that set restarts the feed (down, then up again).
//
// One feed per worker (docs/architecture.md says why): everything here runs on the worker's loop.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/stats.h"
#include "proxy/upstream_link.h"

namespace kw {

class InvalidationConsumer {
public:
  // `key` (under one of this consumer's prefixes) may have changed.
  virtual void onInvalidate(std::string_view key) = 0;
  // Every key may have changed: FLUSHALL or FLUSHDB (of any db: tracking is db-agnostic).
  virtual void onInvalidateAll() = 0;
  // The feed is lost: from now until onFeedUp, invalidations may be missed.
  virtual void onFeedDown() = 0;
  // Tracking is active (again) on a fresh connection: every write from now on is reported. What a
  // consumer loads after this (a SCAN, a read) is covered.
  virtual void onFeedUp() = 0;

protected:
  ~InvalidationConsumer() = default;
};

struct FeedCounters {
  Counter keys;         // invalidated keys received
  Counter flushes;      // null invalidations (FLUSHALL / FLUSHDB)
  Counter losses;       // times coverage was lost
  Counter established;  // times coverage was gained
  Gauge covered;        // 1 while covered
};

class InvalidationFeed final : private LinkOwner {
public:
  struct Options {
    uint32_t heartbeat_ms = 200;
    uint32_t timeout_ms = 1000;
    uint32_t backoff_min_ms = 50;
    uint32_t backoff_max_ms = 5000;
    std::string client_name = "keywarden-feed";
    // False for one node's feed of a FeedSet, whose own gauge says whether every node is covered.
    bool count_coverage = true;
  };
  using Clock = std::function<int64_t()>;  // monotonic milliseconds

  // Links come from `pool` (a RESP3 pinned link each time). `counters` may be null.
  InvalidationFeed(LinkPool* pool, Clock clock, Options options, FeedCounters* counters);
  InvalidationFeed(const InvalidationFeed&) = delete;
  InvalidationFeed& operator=(const InvalidationFeed&) = delete;
  ~InvalidationFeed();

  // Registers (or updates) `consumer` with the prefixes it needs. No prefixes at all: the feed
  // closes its link and stays off.
  void subscribe(InvalidationConsumer* consumer, std::vector<std::string> prefixes);
  void unsubscribe(InvalidationConsumer* consumer);
  // Heartbeats, the silence timeout and reconnects. Call every few tens of ms.
  void tick();
  // Timing and name, e.g. after a reload (takes effect at the next heartbeat or connect).
  void setOptions(Options options) { options_ = std::move(options); }

  bool covered() const { return state_ == State::kCovered; }
  // The prefixes asked of Redis (non-overlapping).
  const std::vector<std::string>& prefixes() const { return prefixes_; }
  const char* stateName() const;
  const std::string& lastCause() const { return last_cause_; }
  int64_t upstreamId() const { return link_ ? link_->upstreamId() : -1; }

private:
  enum class State : uint8_t { kOff, kWaiting, kStarting, kCovered };
  enum class Expect : uint8_t { kName, kTracking, kPong };
  struct Subscriber {
    InvalidationConsumer* consumer;
    std::vector<std::string> prefixes;
  };

  // LinkOwner.
  void onStreamBytes(std::string_view frame) override;
  void onStreamEnded(UpstreamLink*) override {}
  void onLinkReply(UpstreamLink*) override {}
  void onLinkLost(UpstreamLink* link) override;
  uint64_t ownerId() const override { return 0; }

  void recompute();
  void connect();
  void onReply(std::string_view frame);
  void becomeCovered();
  // Coverage is lost (or never came): consumers are told, the link dropped, a retry scheduled.
  void lose(std::string_view cause, bool retry_now = false, bool quiet = false);
  void dispatch(const std::vector<std::string_view>& keys);

  LinkPool* pool_;
  Clock clock_;
  Options options_;
  FeedCounters* counters_;
  FeedCounters own_counters_;
  std::vector<Subscriber> subscribers_;
  std::vector<std::string> prefixes_;
  UpstreamLink* link_ = nullptr;
  State state_ = State::kOff;
  std::vector<Expect> expected_;  // replies owed on the link, oldest first
  size_t expected_head_ = 0;
  int64_t retry_at_ms_ = 0;
  int64_t last_heard_ms_ = 0;
  int64_t last_ping_ms_ = 0;
  uint32_t backoff_ms_ = 0;
  bool warned_ = false;  // one warning per outage
  std::string last_cause_;
  std::vector<std::string_view> keys_;  // parse scratch
};

}  // namespace kw

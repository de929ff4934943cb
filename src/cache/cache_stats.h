// The near cache's and the blacklist replicas' counters: one shard per worker, written by that
// worker alone (relaxed single-writer atomics, like WorkerStats) and summed by readers (INFO,
// KEYWARDEN CACHE STATS, the metrics scrape) on any thread. Shards live in SharedState for the
// life of the process, so a reader never races a worker's teardown.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "proxy/metrics/request_metrics.h"
#include "proxy/stats.h"
#include "tracking/invalidation_feed.h"

namespace kw {

// Per namespace (indexed like the request metrics: cacheStatsSlot).
struct NsCacheCounters {
  // Near cache.
  Counter hits;           // reads answered from the cache
  Counter misses;         // cacheable reads that went to Redis
  Counter fills;          // entries stored from a Redis reply
  Counter fills_dropped;  // replies not stored: their key was invalidated while they were in flight
  Counter invalidations;  // entries (or fills in flight) removed by an invalidation
  Counter evictions;      // entries removed to stay within max_bytes
  Counter expired;        // entries dropped at their key's TTL (or near_cache_max_ttl_ms)
  Gauge entries;
  Gauge bytes;
  // Blacklist replica.
  Counter bl_local;      // EXISTS/GET answered from the replica
  Counter bl_redis;      // checks sent to Redis (replica not known complete, or key being fetched)
  Counter bl_fail_open;  // "not revoked" answered with the replica stale and Redis unreachable
  Gauge bl_entries;
  Gauge bl_bytes;
};

struct CacheStatsShard {
  std::array<NsCacheCounters, kNamespaceSlots> ns;
  FeedCounters feed;
  Gauge replicas_complete;  // blacklist replicas known complete
  Gauge replicas;           // blacklist replicas
};

// The metrics slot of a namespace counter id (as metricsNs in the session).
inline uint32_t cacheStatsSlot(uint32_t counter_id) {
  if (counter_id == UINT32_MAX)
    return kNoNamespace;
  return counter_id < kMaxNamespaces ? counter_id : kOtherNamespace;
}

class CacheStatsRegistry {
public:
  static constexpr unsigned kMaxWorkers = 1024;
  CacheStatsRegistry() = default;
  CacheStatsRegistry(const CacheStatsRegistry&) = delete;
  CacheStatsRegistry& operator=(const CacheStatsRegistry&) = delete;

  // The shard of worker `index` (created on first use).
  CacheStatsShard* shard(unsigned index) {
    if (index >= kMaxWorkers)
      index = kMaxWorkers - 1;
    CacheStatsShard* s = shards_[index].load(std::memory_order_acquire);
    if (s)
      return s;
    std::lock_guard<std::mutex> lock(mu_);
    s = shards_[index].load(std::memory_order_relaxed);
    if (!s) {
      owned_[index] = std::make_unique<CacheStatsShard>();
      s = owned_[index].get();
      shards_[index].store(s, std::memory_order_release);
    }
    return s;
  }
  template <typename Fn> void forEach(Fn&& fn) const {
    for (const auto& p : shards_)
      if (const CacheStatsShard* s = p.load(std::memory_order_acquire))
        fn(*s);
  }

private:
  std::mutex mu_;
  std::array<std::atomic<CacheStatsShard*>, kMaxWorkers> shards_{};
  std::array<std::unique_ptr<CacheStatsShard>, kMaxWorkers> owned_;
};

}  // namespace kw

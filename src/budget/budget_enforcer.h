// Keeps each budgeted namespace under its byte budget, counted as Redis counts it (MEMORY USAGE),
// whoever writes the keys: this keywarden, another one, or a client of Redis directly.
//
//   lease (budget_lease.h): one keywarden at a time enforces; the others stand by
//   holder:
//     feed up      -> SCAN <cursor> MATCH <prefix>* of each namespace: every key found is indexed
//                     (key_index.h) and measured; keys indexed before the scan and not found by
//                     its end are dropped
//     invalidation -> the key was written, deleted, expired or evicted, by anyone: measured again
//                     (a new key at once; a known one after remeasure_delay_ms, so rewrites
//                     coalesce); MEMORY USAGE nil: it is gone from the index
//     over budget  -> read the access clock (OBJECT IDLETIME, or FREQ under an LFU policy) of a
//                     random sample of the namespace's keys; the idlest (eviction_pool.h) are
//                     UNLINKed by a script that checks the lease first; until back under
//                     budget * evict_to_percent / 100
//     FLUSHALL     -> everything is scanned again
//     feed down    -> enforcement goes on with what is known; everything is scanned again when
//                     the feed is back
//   Measuring and sampling are Lua calls over batches of keys (budget_scripts.h) on the
//   enforcer's own untracked connection, off the request path.
//
// Keys are assigned to a namespace by the policy's own resolution (`locate`), so a key of a
// nested namespace, a blacklist, or no namespace at all is never counted nor evicted.
//
// Runs on one loop; Redis, the clocks, randomness and the namespace lookup are injected, so the
// unit tests drive it with fakes (tests/unit/budget_test.cc).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "budget/budget_lease.h"
#include "budget/budget_redis.h"
#include "budget/budget_status.h"
#include "budget/eviction_pool.h"
#include "budget/key_index.h"
#include "tracking/invalidation_feed.h"

namespace kw {

struct BudgetedNamespace {
  std::string name;
  std::string prefix;  // the pattern's literal prefix: what is scanned and tracked
  uint64_t budget = 0;
};

struct EnforcerOptions {
  bool enabled = true;
  std::string lease_key = "keywarden:budgets:lease";
  std::string instance;  // this keywarden's lease value
  uint32_t lease_ms = 3000;
  uint32_t evict_to_percent = 98;
  uint32_t samples_per_eviction = 5;
  uint32_t remeasure_delay_ms = 250;
  uint32_t batch_keys = 256;
};

class BudgetEnforcer final : public InvalidationConsumer {
public:
  struct Env {
    BudgetRedis* redis = nullptr;
    std::function<int64_t()> clock;    // monotonic milliseconds
    std::function<int64_t()> unix_ms;  // wall clock, for "last enforcement"
    // The prefixes the invalidation feed must cover (empty: none). Never called from inside a
    // feed callback.
    std::function<void(std::vector<std::string>)> track;
    // The budgeted namespace (index into configure()'s list) `key` belongs to, or -1.
    std::function<int(std::string_view key)> locate;
    uint64_t seed = 1;
  };

  explicit BudgetEnforcer(Env env);
  BudgetEnforcer(const BudgetEnforcer&) = delete;
  BudgetEnforcer& operator=(const BudgetEnforcer&) = delete;
  ~BudgetEnforcer();

  // After a config load. The same namespaces (names and prefixes) keep what is known of them.
  void configure(std::vector<BudgetedNamespace> namespaces, EnforcerOptions options);
  // Lease, retries, measuring, eviction rounds. Every few tens of ms.
  void tick();
  BudgetSnapshot snapshot() const;

  BudgetLease::Role role() const { return lease_.role(); }
  // For tests and the index memory figure.
  size_t namespaceCount() const { return spaces_.size(); }
  const KeyIndex& index(size_t i) const { return spaces_[i]->index; }

  // InvalidationConsumer.
  void onInvalidate(std::string_view key) override;
  void onInvalidateAll() override;
  void onFeedDown() override;
  void onFeedUp() override;

private:
  struct Space;
  struct Stale {
    uint32_t id;
    int64_t ready_ms;
  };
  struct Space {
    BudgetedNamespace config;
    KeyIndex index;
    std::deque<uint32_t> fresh;  // to measure now (ids; stale entries are skipped)
    std::deque<Stale> stale;     // written again: to measure once ready
    EvictionPool pool{256, 1000, true};
    // Scan.
    bool scanning = false;
    bool scan_inflight = false;
    bool complete = false;  // a scan reached its end since the feed came up
    std::string cursor = "0";
    uint64_t scan_epoch = 0;
    int64_t scan_retry_ms = 0;
    // Eviction.
    bool evicting = false;
    int64_t evict_retry_ms = 0;
    // Counters.
    uint64_t evictions = 0;  // by this keywarden while holding the lease
    uint64_t evicted_bytes = 0;
    int64_t last_enforcement_unix_ms = 0;
    // The holder's figures (standby).
    BudgetNamespaceStatus published;
  };

  void onAcquired();
  void onLost();
  void reset(Space& s);
  void startScans();
  void pump();
  void scanStep(size_t i);
  void measureStep();
  void evictStep(size_t i);
  void chooseVictims(size_t i, uint64_t epoch, std::vector<std::string> keys,
                     std::string_view reply);
  void publishStats();
  void readStats();
  void queueFresh(Space& s, uint32_t id);
  void noteError(std::string_view what, std::string_view reply);
  bool holding() const { return lease_.role() == BudgetLease::Role::kHolder; }

  Env env_;
  EnforcerOptions options_;
  BudgetLease lease_;
  std::vector<std::unique_ptr<Space>> spaces_;
  std::mt19937_64 rng_;
  uint64_t epoch_ = 1;  // bumped when the lease or the feed is lost: in-flight work is dropped
  bool feed_up_ = false;
  bool want_track_ = false;  // track() owed (at the next tick)
  bool tracking_ = false;
  size_t measure_inflight_ = 0;
  int64_t measure_retry_ms_ = 0;
  bool use_freq_ = false;  // the upstream's policy is LFU: OBJECT FREQ
  int64_t next_stats_ms_ = 0;
  bool stats_inflight_ = false;
  uint64_t measured_total_ = 0;
  uint64_t sampled_total_ = 0;
  std::string last_error_;
  int64_t last_error_logged_ms_ = -1000000;
};

}  // namespace kw

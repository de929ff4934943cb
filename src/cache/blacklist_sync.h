// Keeps a worker's blacklist replicas current from Redis (blacklist_replica.h):
//   feed up    -> each replica is loaded: SCAN <cursor> MATCH <prefix>* COUNT 1000, and for each
//                 key GET + PTTL; it is complete (answers locally) once the scan is over and every
//                 fetch of the load is in. The feed is on before the scan starts, so a key written
//                 meanwhile is reported and fetched again.
//   invalidate -> the key is unknown (checks go to Redis) until GET + PTTL of it come back
//   FLUSHALL   -> every replica is empty (and in-flight fetches are forgotten)
//   feed down  -> every replica is cleared and not complete: checks go to Redis
// Expiry is the late bound (when the PTTL reply arrived + PTTL): a replica may say "revoked" a
// moment after Redis stops saying so, never the other way round.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/blacklist_replica.h"
#include "cache/cache_requests.h"
#include "tracking/invalidation_feed.h"

namespace kw {

class BlacklistSync final : public InvalidationConsumer {
public:
  using Clock = std::function<int64_t()>;
  // The replica `key` belongs to (its index), or -1.
  using Locate = std::function<int(std::string_view key)>;

  BlacklistSync(CacheRequests* requests, Clock clock, CacheStatsShard* stats);
  BlacklistSync(const BlacklistSync&) = delete;
  BlacklistSync& operator=(const BlacklistSync&) = delete;
  ~BlacklistSync();

  // The replicas (after a config load); loaded at once when the feed is up.
  void setReplicas(std::vector<std::unique_ptr<BlacklistReplica>> replicas, Locate locate,
                   bool feed_up);
  size_t size() const { return replicas_.size(); }
  BlacklistReplica& replica(size_t i) { return *replicas_[i]; }
  std::vector<std::string> prefixes() const;

  // A write of `key` went through this proxy (or its reply came back): unknown until fetched.
  void refresh(std::string_view key);
  // Retries of failed fetches and loads, expiry sweeps. Every few tens of ms.
  void tick();

  // InvalidationConsumer.
  void onInvalidate(std::string_view key) override { refresh(key); }
  void onInvalidateAll() override;
  void onFeedDown() override;
  void onFeedUp() override;

private:
  struct Load {
    uint64_t id = 0;  // which load of the replica (a failed one is started again)
    bool scanning = false;
    bool failed = false;
    size_t outstanding = 0;  // fetches of the load still in flight
  };
  struct Retry {
    size_t replica;
    std::string key;
  };

  void startLoad(size_t i);
  void scanPage(size_t i, uint64_t epoch, uint64_t load_id, const std::string& cursor);
  void fetch(size_t i, std::string_view key, bool for_load);
  void loadStep(size_t i);
  void updateGauges();

  CacheRequests* requests_;
  Clock clock_;
  CacheStatsShard* stats_;
  std::vector<std::unique_ptr<BlacklistReplica>> replicas_;
  std::vector<Load> loads_;
  Locate locate_;
  uint64_t epoch_ = 1;  // bumped whenever in-flight work must be forgotten
  uint64_t next_load_id_ = 1;
  bool feed_up_ = false;
  std::vector<Retry> retries_;
  int64_t next_retry_ms_ = 0;
  int64_t next_sweep_ms_ = 0;
  int64_t shown_replicas_ = 0;
  int64_t shown_complete_ = 0;
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);  // callbacks check it
};

}  // namespace kw

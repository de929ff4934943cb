// The near cache of one worker: hot read replies kept in the proxy, bounded by an LRU over bytes,
// correct because every entry is dropped when the invalidation feed reports its key (the stage
// and the runtime wire that; this class is the data structure, single-threaded, clock injected).
//
// What an entry holds, per key:
//   kString   a GET reply (stored as the RESP bulk, the same bytes in RESP2 and RESP3)
//   kAbsent   the key does not exist (nil answers are cached too)
//   kExists   the key exists, its value unknown (from EXISTS)
//   kHash     hash fields: some (HGET/HMGET; absent fields remembered too) or all (HGETALL)
// Each entry keeps its expiry (the key's TTL as Redis gave it, or near_cache_max_ttl_ms if
// sooner): Redis reports an expired key only when it deletes it, so the cache never serves an
// entry past its expiry on its own.
//
// The fill race: a read sent to Redis before a write of its key may have its reply arrive after
// that write's invalidation. So a fill is a protocol: beginFill() before the read is sent gives
// the id of the key's record (a "filling" marker is created when there is none); every
// invalidation removes the record; the reply is stored (fill*) only if the record with that id is
// still there. Ids are never reused, so a marker created after an invalidation does not let an
// older read in.
//
// Blocks: a write whose reply the proxy does not see (queued in MULTI, a blocking command) blocks
// its keys' fills for a while: a read that overtook the write would otherwise fill the old value
// after the write's own invalidation, and the writer would read its write undone.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/cache_stats.h"
#include "cache/key_index.h"

namespace kw {

class NearCache {
public:
  enum class Kind : uint8_t { kString, kAbsent, kExists, kHash };
  enum class State : uint8_t { kFilling, kValue, kBlocked };

  struct HashValue {
    bool complete = false;  // every field of the hash is here (HGETALL)
    // Field -> value; nullopt: the field is known not to exist.
    std::vector<std::pair<std::string, std::optional<std::string>>> fields;
    const std::pair<std::string, std::optional<std::string>>* find(std::string_view f) const {
      for (const auto& p : fields)
        if (p.first == f)
          return &p;
      return nullptr;
    }
  };

  struct Entry {
    Entry* prev = nullptr;  // LRU: most recent at the head
    Entry* next = nullptr;
    uint64_t hash = 0;
    uint64_t id = 0;
    uint64_t lru_tick = 0;  // NearCache::tick_ when it was last put at the head
    int64_t until_ms = 0;   // kValue: expiry (INT64_MAX: none); kBlocked: end of the block
    uint32_t slot = 0;      // stats slot of the key's namespace
    uint32_t charged = 0;   // bytes counted against the budget
    State state = State::kFilling;
    Kind kind = Kind::kAbsent;
    std::string key_;
    std::string value;  // kString: "$<n>\r\n<bytes>\r\n"
    std::unique_ptr<HashValue> hash_value;
    std::string_view key() const { return key_; }
  };

  // `stats` may be null (counters then go nowhere).
  NearCache(uint64_t max_bytes, CacheStatsShard* stats);
  NearCache(const NearCache&) = delete;
  NearCache& operator=(const NearCache&) = delete;
  ~NearCache();

  void setMaxBytes(uint64_t max_bytes);

  // The entry of `key` if it holds a value that has not expired, made the most recently used;
  // nullptr otherwise (an expired entry is dropped).
  const Entry* lookup(std::string_view key, uint64_t hash, int64_t now_ms);

  // Before a read of `key` is sent: the id its reply must find, or 0 when it must not be stored
  // (the key is blocked).
  uint64_t beginFill(std::string_view key, uint64_t hash, uint32_t slot, int64_t now_ms);
  // The reply, if the record `id` is still there. expire_ms: INT64_MAX for none. True if stored
  // (false: dropped, the caller counts it).
  bool fillString(std::string_view key, uint64_t hash, uint64_t id, std::string_view value,
                  int64_t expire_ms);
  bool fillAbsent(std::string_view key, uint64_t hash, uint64_t id, int64_t expire_ms);
  bool fillExists(std::string_view key, uint64_t hash, uint64_t id, int64_t expire_ms);
  // Some fields (HGET/HMGET): values[i] for fields[i], nullopt for a missing field. Merged into
  // what the entry already knows of the hash.
  bool fillHashFields(std::string_view key, uint64_t hash, uint64_t id,
                      std::span<const std::string_view> fields,
                      std::span<const std::optional<std::string_view>> values, int64_t expire_ms);
  // The whole hash (HGETALL), as field, value, field, value...
  bool fillHashAll(std::string_view key, uint64_t hash, uint64_t id,
                   std::span<const std::string_view> pairs, int64_t expire_ms);

  // The key may have changed: its value or fill marker goes (a block stays). True when there was
  // a value or a marker.
  bool invalidate(std::string_view key, uint64_t hash);
  // A write of `key` the proxy does not see the reply of: invalidated, and fills are refused until
  // `until_ms`.
  void block(std::string_view key, uint64_t hash, uint32_t slot, int64_t until_ms);
  // Everything (the feed was lost, FLUSHALL); or one namespace's entries.
  void clear();
  void clearSlot(uint32_t slot);

  size_t entries() const { return index_.size(); }
  uint64_t bytes() const { return bytes_; }
  uint64_t maxBytes() const { return max_bytes_; }
  // What one more entry costs besides its key and value: the record and its index slot.
  static constexpr size_t kEntryOverhead = sizeof(Entry) + 2 * sizeof(void*);

private:
  Entry* record(std::string_view key, uint64_t hash, uint64_t id);  // the record if its id is `id`
  void makeValue(Entry* e, Kind kind, int64_t expire_ms);
  void remove(Entry* e);
  void linkFront(Entry* e);
  void unlink(Entry* e);
  void recharge(Entry* e);
  void evict();
  NsCacheCounters* counters(uint32_t slot);

  KeyIndex<Entry> index_;
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  uint64_t bytes_ = 0;
  uint64_t max_bytes_;
  uint64_t next_id_ = 1;
  uint64_t tick_ = 0;  // moves to the head so far
  CacheStatsShard* stats_;
  NsCacheCounters sink_;  // counters of a cache without stats
};

}  // namespace kw

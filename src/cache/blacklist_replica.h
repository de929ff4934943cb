// A worker's replica of one blacklist namespace: token id -> value and expiry, so EXISTS and GET
// of a blacklist key are answered without Redis. Loaded by SCAN of the namespace's prefix once the
// invalidation feed covers it, and kept current by the feed: every reported key is fetched again
// (GET + PTTL). blacklist_sync.h drives that; this class is the table, single-threaded, with the
// clock injected.
//
// Fail safe: lookup() says kUnknown (ask Redis) while the replica is not known complete (loading,
// feed down) and for a key whose fetch is in flight; it never says "absent" from a state that may
// be stale. A fetch's result counts only if no newer invalidation of the key came meanwhile
// (generations, as the near cache's fill ids).
//
// Memory: one record per entry (24-byte header + token id + value, one allocation) and its index
// slot; keys are stored without the namespace's prefix.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cache/cache_stats.h"
#include "cache/key_index.h"

namespace kw {

class BlacklistReplica {
public:
  enum class Answer : uint8_t { kUnknown, kAbsent, kPresent };

  BlacklistReplica(std::string prefix, NsCacheCounters* counters);
  BlacklistReplica(const BlacklistReplica&) = delete;
  BlacklistReplica& operator=(const BlacklistReplica&) = delete;
  ~BlacklistReplica();

  const std::string& prefix() const { return prefix_; }

  // `key` is the full key (prefix included). For kPresent, *value is its string value, or
  // nullopt when the key holds another type (EXISTS can be answered, GET cannot).
  Answer lookup(std::string_view key, int64_t now_ms, std::optional<std::string_view>* value);

  // The key is about to be fetched: until the fetch with this generation completes, it is
  // unknown.
  uint64_t beginFetch(std::string_view key);
  // What Redis said to fetch `gen`: the key's value (nullopt: absent), whether it is a string, and
  // its expiry in monotonic ms (INT64_MAX: none). Ignored when a newer fetch began since.
  void completeFetch(std::string_view key, uint64_t gen, bool present, bool is_string,
                     std::string_view value, int64_t expire_ms);
  bool fetchPending(std::string_view key, uint64_t gen) const;

  // Everything dropped (and in-flight fetches forgotten); not complete.
  void clear();
  // FLUSHALL: nothing exists now; in-flight fetches (which may have read before it) forgotten.
  void flushed();
  void setComplete(bool complete);
  bool complete() const { return complete_; }
  // Drops entries whose expiry has passed.
  void sweep(int64_t now_ms);

  size_t entries() const { return index_.size(); }
  size_t pending() const { return pending_.size(); }
  uint64_t bytes() const { return bytes_ + index_.memoryBytes(); }

private:
  struct Record {
    uint64_t hash;
    int64_t expire_ms;
    uint32_t key_len;
    uint32_t val_len;  // kNotString: another type
    char data[];       // token id, then value
    std::string_view key() const { return {data, key_len}; }
  };
  static constexpr uint32_t kNotString = UINT32_MAX;

  void erase(Record* r);
  void account();
  std::string_view suffix(std::string_view key) const { return key.substr(prefix_.size()); }

  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

  std::string prefix_;
  NsCacheCounters* counters_;
  KeyIndex<Record> index_;
  std::unordered_map<std::string, uint64_t, Hash, std::equal_to<>> pending_;  // suffix -> gen
  uint64_t next_gen_ = 1;
  uint64_t bytes_ = 0;  // records (allocator sizes)
  int64_t shown_entries_ = 0;
  int64_t shown_bytes_ = 0;
  bool complete_ = false;
};

}  // namespace kw

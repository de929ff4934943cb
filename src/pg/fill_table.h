// The per-process state of one PostgreSQL source's read-through keys, shared by every worker:
// the one thread-safe structure of the feature (one mutex; touched on misses, never on hits).
//
//  - Single-flight: concurrent misses of one key, on any worker, make one query. The first
//    miss creates the flight and is its leader (it runs the query on its own worker); later
//    misses join as waiters. The leader takes the waiters when it is done and posts the result
//    to each waiter's worker (Worker::post).
//  - Negative cache: a key whose row is missing is remembered for negative_ttl_s, in process
//    memory only, so no marker is ever visible in Redis (a client reading Redis directly just
//    sees no key). A notification for the key forgets it.
//  - Fill record: the keys this process filled and that have not expired yet, so that after the
//    LISTEN connection was lost (notifications lost) the keys filled before it came back can be
//    deleted. Bounded; when full the oldest records are dropped (those keys then rely on their
//    TTL alone).
//  - Recent fills: a value just written stays here for kRecentMs, because a GET that Redis
//    answered nil just before the SET landed (on another worker's connection) may reach
//    keywarden after the flight ended; it is answered with that value instead of a second
//    query. A notification forgets it like a negative entry.
//  - Invalidation during a fill: a notification for a key whose flight is running marks the
//    flight dirty; the leader then does not write its (possibly older) value to Redis, or, if
//    its SET was already sent, deletes the key again once the SET's reply is in.
//
// Time is passed in (ms, any monotonic origin), so the unit tests drive it with their own clock.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kw::pg {

class FillTable {
public:
  // Who waits for a flight: an opaque stage pointer and the stage's own waiter id.
  struct Waiter {
    void* owner = nullptr;
    uint64_t id = 0;
  };
  struct Finished {
    std::vector<Waiter> waiters;  // every waiter, the leader's own included
    bool dirty = false;           // invalidated while the flight ran
  };

  explicit FillTable(size_t max_negative = 100000, size_t max_fill_records = 1000000)
      : max_negative_(max_negative), max_records_(max_fill_records) {}

  // True when `key` is known missing at `now_ms`.
  bool isMissing(std::string_view key, uint64_t now_ms);
  void rememberMissing(std::string_view key, uint64_t now_ms, uint64_t ttl_ms);

  // The value filled for `key` less than kRecentMs ago, if any.
  bool recentValue(std::string_view key, uint64_t now_ms, std::string* value);
  void rememberRecent(std::string_view key, std::string_view value, uint64_t now_ms);
  static constexpr uint64_t kRecentMs = 1000;

  // Adds `w` to the key's flight; true when this created the flight (the caller is the leader
  // and must call finish() exactly once).
  bool join(std::string_view key, Waiter w);
  // True when a notification arrived since the flight started.
  bool dirty(std::string_view key);
  Finished finish(std::string_view key);
  // Drops every waiter of `owner` (a stage going away); returns how many.
  size_t forgetOwner(void* owner);

  // A notification for `key`: forget its negative entry, mark its flight dirty. True when a
  // flight was running.
  bool invalidate(std::string_view key);

  // This process wrote `key` to Redis with a TTL ending at expires_ms.
  void recordFill(std::string_view key, uint64_t now_ms, uint64_t expires_ms);
  // Keys filled before `before_ms` that have not expired at now_ms; they leave the record.
  std::vector<std::string> takeFilledBefore(uint64_t before_ms, uint64_t now_ms);

  size_t flights() const;
  size_t negatives() const;
  size_t fillRecords() const;
  uint64_t recordsDropped() const;

private:
  struct Flight {
    std::vector<Waiter> waiters;
    bool dirty = false;
  };
  struct Fill {
    std::string key;
    uint64_t filled_ms;
    uint64_t expires_ms;
  };
  void sweepNegatives(uint64_t now_ms);

  mutable std::mutex mu_;
  const size_t max_negative_;
  const size_t max_records_;
  std::unordered_map<std::string, Flight> flights_;
  std::unordered_map<std::string, uint64_t> negative_;  // key -> expiry
  struct Recent {
    std::string value;
    uint64_t expires_ms;
  };
  std::unordered_map<std::string, Recent> recent_;
  std::deque<Fill> fills_;  // in fill order
  uint64_t dropped_ = 0;
};

}  // namespace kw::pg

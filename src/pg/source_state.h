// Process-wide state of one PostgreSQL source and of the read-through namespaces, shared by all
// workers: the circuit breaker (mutex), the fill table (its own mutex, fill_table.h), and
// counters (relaxed atomics, written by whichever worker saw the event, read by INFO, KEYWARDEN
// SOURCES and the metrics scrape).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "pg/circuit_breaker.h"
#include "pg/fill_table.h"
#include "pg/pg_config.h"
#include "pg/row_result.h"

namespace kw::pg {

using Counter = std::atomic<uint64_t>;

inline void bump(Counter& c, uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}
inline uint64_t read(const Counter& c) {
  return c.load(std::memory_order_relaxed);
}

// Query latency, ms upper bounds (the last bucket is +Inf).
struct LatencyHistogram {
  static constexpr std::array<double, 12> kBoundsMs = {0.5, 1,   2.5, 5,   10,   25,
                                                       50,  100, 250, 500, 1000, 2500};
  std::array<Counter, kBoundsMs.size() + 1> buckets{};
  Counter sum_us{0};
  Counter count{0};
  void observe(uint64_t us) {
    size_t i = 0;
    while (i < kBoundsMs.size() && static_cast<double>(us) > kBoundsMs[i] * 1000)
      ++i;
    bump(buckets[i]);
    bump(sum_us, us);
    bump(count);
  }
};

constexpr size_t kOutcomeKinds = 6;  // RowOutcome::Kind values

struct ReadThroughStats {
  Counter misses{0};          // nil from Redis (or Redis down) on a read-through key
  Counter fills{0};           // values this process wrote to Redis
  Counter fill_lost_race{0};  // SET NX found a value written meanwhile (that one was served)
  Counter missing_rows{0};
  Counter negative_hits{0};  // misses answered nil from the negative cache, no query
  Counter coalesced{0};      // misses that waited for another miss's query
  Counter queries{0};
  Counter direct{0};  // answered from PostgreSQL while Redis was down (nothing cached)
  Counter warmed{0};  // keys filled by KEYWARDEN WARM
  Counter notifications{0};
  Counter invalidations{0};    // keys deleted from Redis by a notification
  Counter suspect_deleted{0};  // keys deleted after the LISTEN connection came back
  std::array<Counter, kOutcomeKinds> errors{};  // by RowOutcome::Kind (found/missing stay 0)
  LatencyHistogram latency;
};

class SourceState {
public:
  explicit SourceState(const PostgresSourceConfig& cfg)
      : cfg_(cfg), breaker_(cfg.circuit_failures, cfg.circuit_probe_ms) {}

  const PostgresSourceConfig& config() const { return cfg_; }
  FillTable& table() { return table_; }

  bool allowQuery(std::string* cause) {
    std::lock_guard<std::mutex> lock(mu_);
    if (breaker_.allowQuery())
      return true;
    *cause = breaker_.cause();
    return false;
  }
  bool takeProbe(uint64_t now_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    return breaker_.takeProbe(now_ms);
  }
  void success() {
    std::lock_guard<std::mutex> lock(mu_);
    breaker_.onSuccess();
  }
  // True when this failure opened the circuit.
  bool failure(uint64_t now_ms, const std::string& cause) {
    std::lock_guard<std::mutex> lock(mu_);
    const bool was_closed = breaker_.state() == CircuitBreaker::State::kClosed;
    breaker_.onFailure(now_ms, cause);
    last_error_ = cause;
    bump(errors);
    return was_closed && breaker_.state() != CircuitBreaker::State::kClosed;
  }
  void noteError(const std::string& e) {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_ = e;
    bump(errors);
  }
  struct Snapshot {
    CircuitBreaker::State state;
    uint32_t consecutive_failures;
    uint64_t opened;
    std::string cause;
    std::string last_error;
  };
  Snapshot snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return {breaker_.state(), breaker_.consecutiveFailures(), breaker_.opened(), breaker_.cause(),
            last_error_};
  }

  Counter queries{0};
  Counter errors{0};
  Counter timeouts{0};
  Counter connects{0};
  Counter connect_failures{0};
  std::atomic<int64_t> conns_ready{0};  // idle or busy, summed over workers
  std::atomic<int64_t> conns_connecting{0};
  std::atomic<int64_t> conns_busy{0};
  std::atomic<bool> listening{false};  // the LISTEN connection is up (when there are channels)
  Counter listen_losses{0};
  Counter relistens{0};
  Counter suspects_deleted{0};  // keys deleted after the LISTEN connection came back

private:
  const PostgresSourceConfig cfg_;
  FillTable table_;
  mutable std::mutex mu_;
  CircuitBreaker breaker_;
  std::string last_error_;
};

}  // namespace kw::pg

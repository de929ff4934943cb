// The process-wide part of PostgreSQL read-through, created once at startup when the config has
// [[postgres]] sources (Server), reached by every worker through SharedState::read_through:
//
//   ReadThroughHub
//     sources: SourceState each (circuit breaker, fill table = single-flight + negative cache +
//              fill record, counters)                                          source_state.h
//     namespaces: pattern, prepared statement, counters                        this file
//     stages: each worker's ReadThroughStage, by worker index (a flight's leader posts results
//             to the waiters' workers, and the task finds the stage there)
//
// The per-worker part is ReadThroughStage (read_through_stage.h): the request stage, the
// worker's SourcePools, and on worker 0 the LISTEN connections.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "pg/pg_config.h"
#include "pg/source_pool.h"
#include "pg/source_state.h"
#include "policy/key_pattern.h"

namespace kw {
class RequestStage;
class Worker;
}  // namespace kw

namespace kw::pg {

class ReadThroughStage;

struct RtNamespace {
  ReadThroughConfig cfg;
  size_t source = 0;
  KeyPattern pattern;
  Statement stmt;
  ReadThroughStats stats;
  RtNamespace(const ReadThroughConfig& c, size_t src, KeyPattern p, size_t index)
      : cfg(c), source(src),
        pattern(std::move(p)), stmt{"kw_read_through_" + std::to_string(index), c.query} {}
};

class ReadThroughHub {
public:
  static constexpr size_t kMaxWorkers = 1024;

  explicit ReadThroughHub(const PgConfig& cfg);

  const PgConfig& config() const { return cfg_; }
  size_t sourceCount() const { return sources_.size(); }
  SourceState& source(size_t i) { return *sources_[i]; }
  const SourceState& source(size_t i) const { return *sources_[i]; }
  size_t namespaceCount() const { return namespaces_.size(); }
  RtNamespace& ns(size_t i) { return *namespaces_[i]; }
  const RtNamespace& ns(size_t i) const { return *namespaces_[i]; }
  int findNamespace(std::string_view name) const;

  std::unique_ptr<RequestStage> makeStage(Worker* worker);
  // Only read on that worker's own thread (inside a task posted to it).
  ReadThroughStage* stage(unsigned worker) const {
    return worker < kMaxWorkers ? stages_[worker].load(std::memory_order_acquire) : nullptr;
  }
  void setStage(unsigned worker, ReadThroughStage* s) {
    if (worker < kMaxWorkers)
      stages_[worker].store(s, std::memory_order_release);
  }

  // One clock for everything shared between workers (breakers, negative cache, fill record).
  static uint64_t nowMs() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }

  // INFO's "# ReadThrough" section (without the trailing blank line).
  std::string infoSection() const;
  // KEYWARDEN SOURCES: one map per source.
  std::string sourcesReply(int proto) const;

private:
  PgConfig cfg_;
  std::vector<std::unique_ptr<SourceState>> sources_;
  std::vector<std::unique_ptr<RtNamespace>> namespaces_;
  std::array<std::atomic<ReadThroughStage*>, kMaxWorkers> stages_{};
};

}  // namespace kw::pg

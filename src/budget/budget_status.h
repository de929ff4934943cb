// What the budget enforcer (on worker 0) shows everyone else: INFO, KEYWARDEN NAMESPACES and
// BUDGETS on any worker, the Prometheus scrape on the main thread. The enforcer publishes an
// immutable snapshot a few times a second; readers take the current one. The one thread-safe
// piece of the budgets, kept in SharedState.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kw {

struct BudgetNamespaceStatus {
  std::string name;
  uint64_t budget = 0;
  // The namespace's figures as the enforcing keywarden knows them: this one's own when it holds
  // the lease ("self"), else what the holder last published in Redis ("holder"), else unknown
  // ("none": bytes and keys are -1).
  std::string source = "none";
  int64_t bytes = -1;
  int64_t keys = -1;
  uint64_t evictions = 0;  // by the holder that published the figures
  uint64_t evicted_bytes = 0;
  int64_t last_enforcement_unix_ms = 0;  // last eviction round that evicted; 0: never
  bool complete = false;                 // scanned to the end and every known key measured
  uint64_t pending = 0;                  // keys waiting to be measured
  uint64_t own_evictions = 0;            // by this keywarden, since it started (monotonic)
  uint64_t own_evicted_bytes = 0;
};

struct BudgetSnapshot {
  std::string role = "off";  // off | standby | holder
  std::string instance;      // this keywarden's lease value
  std::string holder;        // the lease's value in Redis ("" when nobody holds it or unknown)
  int64_t lease_ttl_ms = -1;
  std::string lease_key;
  uint32_t lease_ms = 0;
  uint64_t acquisitions = 0;  // times this keywarden took the lease
  uint64_t losses = 0;        // times it lost it (expired, fenced, disconnected)
  bool feed_covered = false;
  std::string access_clock = "idletime";  // what victims are chosen by: idletime | freq
  uint64_t index_memory_bytes = 0;        // the per-key index of every namespace (holder only)
  uint64_t tracked_keys = 0;
  uint64_t measured_total = 0;  // MEMORY USAGE readings since start
  uint64_t sampled_total = 0;   // OBJECT IDLETIME/FREQ readings since start
  std::string last_error;
  std::vector<BudgetNamespaceStatus> namespaces;

  const BudgetNamespaceStatus* find(std::string_view name) const {
    for (const BudgetNamespaceStatus& n : namespaces)
      if (n.name == name)
        return &n;
    return nullptr;
  }
};

class BudgetStatus {
public:
  std::shared_ptr<const BudgetSnapshot> get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return snapshot_ ? snapshot_ : std::make_shared<const BudgetSnapshot>();
  }
  void publish(std::shared_ptr<const BudgetSnapshot> s) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = std::move(s);
  }

private:
  mutable std::mutex mu_;
  std::shared_ptr<const BudgetSnapshot> snapshot_;
};

}  // namespace kw

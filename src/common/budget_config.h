// Memory budget configuration (plain data), read by budget_config_loader.cc:
//
//   [[namespaces]] memory_budget_bytes = N     the namespace's share of the shared Redis
//   [budgets]                                  how the budgets are enforced (the lease, sampling)
//
// The bytes of a namespace are what Redis itself counts for its keys (MEMORY USAGE). One
// keywarden at a time (the holder of a lease kept in Redis) enforces every budget, whoever wrote
// the keys; src/budget/ and docs/architecture.md ("Memory budgets") say how.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kw {

struct BudgetConfig {
  // Per [[namespaces]] entry, in file order (the namespace id); 0: no budget.
  std::vector<uint64_t> namespace_budgets;

  bool enabled = true;  // false: no keywarden of this config takes the lease or evicts
  // The lease: one key in Redis (SET NX PX, renewed every lease_ms / 3). Every keywarden in front
  // of one Redis must use the same key. Its holder publishes its figures under lease_key +
  // ":stats".
  std::string lease_key = "keywarden:budgets:lease";
  uint32_t lease_ms = 3000;
  // Enforcement evicts down to budget * evict_to_percent / 100 once over the budget.
  uint32_t evict_to_percent = 98;
  // Keys whose access clock (OBJECT IDLETIME / FREQ) is read per key evicted; the idlest of them
  // (and of the best candidates kept from earlier rounds) go first. Redis's maxmemory-samples.
  uint32_t samples_per_eviction = 5;
  // A key written again is measured again (MEMORY USAGE) at most this often: rewrites coalesce.
  uint32_t remeasure_delay_ms = 250;
  // Keys per MEMORY USAGE script call and per SCAN page.
  uint32_t batch_keys = 256;
  // Upstream checks (KEYWARDEN DOCTOR) logged at startup.
  bool doctor_at_startup = true;

  bool any() const {
    for (uint64_t b : namespace_budgets)
      if (b != 0)
        return true;
    return false;
  }
  uint64_t budgetOf(uint32_t ns) const {
    return ns < namespace_budgets.size() ? namespace_budgets[ns] : 0;
  }
};

}  // namespace kw

#include "budget/budget_metrics.h"

#include "budget/budget_status.h"
#include "proxy/metrics/families.h"

namespace kw {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

}  // namespace

void appendBudgetFamilies(const BudgetSnapshot& snap, std::vector<MetricFamily>* out) {
  if (snap.namespaces.empty())
    return;
  struct PerNs {
    const char* name;
    const char* help;
    MetricType type;
    bool known_only;  // only where the figures are known (holder, or the holder's published ones)
    double (*value)(const BudgetNamespaceStatus&);
  };
  const PerNs families[] = {
      {"keywarden_budget_limit_bytes", "Memory budget of the namespace (memory_budget_bytes).",
       MetricType::Gauge, false,
       [](const BudgetNamespaceStatus& n) { return static_cast<double>(n.budget); }},
      {"keywarden_budget_bytes",
       "Bytes Redis counts for the namespace's keys (sum of MEMORY USAGE), as the lease holder "
       "knows them.",
       MetricType::Gauge, true,
       [](const BudgetNamespaceStatus& n) { return static_cast<double>(n.bytes); }},
      {"keywarden_budget_keys", "Keys of the namespace, as the lease holder knows them.",
       MetricType::Gauge, true,
       [](const BudgetNamespaceStatus& n) { return static_cast<double>(n.keys); }},
      {"keywarden_budget_last_enforcement_timestamp_seconds",
       "When the lease holder last evicted keys of the namespace (Unix time; 0: never).",
       MetricType::Gauge, true,
       [](const BudgetNamespaceStatus& n) {
         return static_cast<double>(n.last_enforcement_unix_ms) / 1000.0;
       }},
      {"keywarden_budget_evictions_total",
       "Keys of the namespace this keywarden evicted to keep it under its budget.",
       MetricType::Counter, false,
       [](const BudgetNamespaceStatus& n) { return static_cast<double>(n.own_evictions); }},
      {"keywarden_budget_evicted_bytes_total",
       "Bytes (MEMORY USAGE) of the keys this keywarden evicted from the namespace.",
       MetricType::Counter, false,
       [](const BudgetNamespaceStatus& n) { return static_cast<double>(n.own_evicted_bytes); }},
  };
  for (const PerNs& p : families) {
    MetricFamily f = family(p.name, p.help, p.type);
    for (const BudgetNamespaceStatus& n : snap.namespaces) {
      if (p.known_only && n.source == "none")
        continue;
      addSample(&f, {{"namespace", printableLabel(n.name)}}, p.value(n));
    }
    if (!f.metric.empty())
      out->push_back(std::move(f));
  }
  MetricFamily holder =
      family("keywarden_budget_lease_holder",
             "1 while this keywarden holds the budget lease and enforces every budget.",
             MetricType::Gauge);
  addSample(&holder, {}, snap.role == "holder" ? 1 : 0);
  out->push_back(std::move(holder));
  MetricFamily index =
      family("keywarden_budget_index_bytes",
             "Memory of the enforcer's per-key index (lease holder only).", MetricType::Gauge);
  addSample(&index, {}, static_cast<double>(snap.index_memory_bytes));
  out->push_back(std::move(index));
  MetricFamily tracked =
      family("keywarden_budget_tracked_keys", "Keys in the enforcer's index (lease holder only).",
             MetricType::Gauge);
  addSample(&tracked, {}, static_cast<double>(snap.tracked_keys));
  out->push_back(std::move(tracked));
  MetricFamily measured =
      family("keywarden_budget_measurements_total",
             "MEMORY USAGE readings taken by this keywarden.", MetricType::Counter);
  addSample(&measured, {}, static_cast<double>(snap.measured_total));
  out->push_back(std::move(measured));
  MetricFamily sampled =
      family("keywarden_budget_samples_total",
             "OBJECT IDLETIME / FREQ readings taken to choose victims.", MetricType::Counter);
  addSample(&sampled, {}, static_cast<double>(snap.sampled_total));
  out->push_back(std::move(sampled));
}

}  // namespace kw

#include "budget/budget_feature.h"

#include "budget/budget_admin.h"
#include "budget/budget_metrics.h"
#include "budget/budget_service.h"
#include "common/config.h"
#include "proxy/worker.h"

namespace kw {

void BudgetFeature::startWorker(Worker& worker) {
  if (worker.index() == 0)
    installBudgetService(worker, &status_);  // one enforcer per process
}

bool BudgetFeature::keywarden(std::string_view sub, AdminRequest& req) {
  if (sub != "budgets" && sub != "doctor")
    return false;
  keywardenBudgets(sub, req);
  return true;
}

void BudgetFeature::keywardenHelp(std::vector<std::string>* lines) const {
  lines->emplace_back("BUDGETS");
  lines->emplace_back(
      "    Memory budgets: who holds the enforcement lease, each budgeted namespace's bytes,");
  lines->emplace_back("    keys and evictions.");
  lines->emplace_back("DOCTOR");
  lines->emplace_back("    Known problems in the upstream Redis's configuration, one line each.");
}

void BudgetFeature::appendInfo(std::string_view section, const Config&, const CompiledPolicy&,
                               std::string* out) const {
  if (section == "keywarden")
    appendBudgetInfo(out, *status_.get());
}

void BudgetFeature::namespaceFields(const Config& config, uint32_t ns, std::string_view ns_name,
                                    std::string* out, int64_t* count) const {
  *count += budgetFieldCount(config, ns);
  appendBudgetFields(out, config, ns, ns_name, *status_.get());
}

void BudgetFeature::appendConfig(const Config& c, ConfigEntries* out) const {
  auto add = [out](std::string k, std::string v) { out->emplace_back(std::move(k), std::move(v)); };
  for (size_t i = 0; i < c.policy.namespaces.size(); ++i)
    add("namespaces." + c.policy.namespaces[i].name + ".memory_budget_bytes",
        std::to_string(c.budgets.budgetOf(static_cast<uint32_t>(i))));
  add("budgets.enabled", c.budgets.enabled ? "yes" : "no");
  add("budgets.lease_key", c.budgets.lease_key);
  add("budgets.lease_ms", std::to_string(c.budgets.lease_ms));
  add("budgets.evict_to_percent", std::to_string(c.budgets.evict_to_percent));
  add("budgets.samples_per_eviction", std::to_string(c.budgets.samples_per_eviction));
  add("budgets.remeasure_delay_ms", std::to_string(c.budgets.remeasure_delay_ms));
  add("budgets.batch_keys", std::to_string(c.budgets.batch_keys));
  add("budgets.doctor_at_startup", c.budgets.doctor_at_startup ? "yes" : "no");
}

void BudgetFeature::appendMetrics(const std::vector<std::string>&,
                                  std::vector<prometheus::MetricFamily>* out) const {
  appendBudgetFamilies(*status_.get(), out);
}

}  // namespace kw

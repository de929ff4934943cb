// The memory budgets as a feature (proxy/feature.h): the enforcer on worker 0 (budget_service.h),
// KEYWARDEN BUDGETS and DOCTOR, INFO's budget lines, the budget fields of KEYWARDEN NAMESPACES,
// their settings in KEYWARDEN CONFIG GET and their metric families. It owns the snapshot the
// enforcer publishes (BudgetStatus).
#pragma once

#include "budget/budget_status.h"
#include "proxy/feature.h"

namespace kw {

class BudgetFeature final : public Feature {
public:
  std::string_view name() const override { return "budgets"; }
  void startWorker(Worker& worker) override;
  bool keywarden(std::string_view sub, AdminRequest& req) override;
  void keywardenHelp(std::vector<std::string>* lines) const override;
  void appendInfo(std::string_view section, const Config& config, const CompiledPolicy& policy,
                  std::string* out) const override;
  void namespaceFields(const Config& config, uint32_t ns, std::string_view ns_name,
                       std::string* out, int64_t* count) const override;
  void appendConfig(const Config& config, ConfigEntries* out) const override;
  void appendMetrics(const std::vector<std::string>& ns_labels,
                     std::vector<prometheus::MetricFamily>* out) const override;

private:
  void keywardenBudgets(std::string_view sub, AdminRequest& req);  // budget_admin.cc

  BudgetStatus status_;
};

}  // namespace kw

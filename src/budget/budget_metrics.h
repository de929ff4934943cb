// The memory budgets' metric families, added to every scrape by MetricsCollector.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

namespace kw {

struct BudgetSnapshot;

void appendBudgetFamilies(const BudgetSnapshot& snap, std::vector<prometheus::MetricFamily>* out);

}  // namespace kw

// How the memory budgets show in the operator commands: INFO keywarden lines and the fields of
// KEYWARDEN NAMESPACES (admin_commands.cc calls these), and KEYWARDEN BUDGETS / DOCTOR
// (Session::cmdKeywardenBudgets in budget_admin.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "budget/budget_status.h"
#include "common/config.h"

namespace kw {

// "budget_..." lines of INFO keywarden.
void appendBudgetInfo(std::string* out, const BudgetSnapshot& snap);

// KEYWARDEN NAMESPACES: how many fields namespace `ns` (id in the config) adds, and those fields:
// memory_budget_bytes (0: none); with a budget also memory_bytes, memory_keys (-1: not known
// here), budget_evictions, budget_last_enforcement_ms.
int64_t budgetFieldCount(const Config& config, uint32_t ns);
void appendBudgetFields(std::string* out, const Config& config, uint32_t ns, std::string_view name,
                        const BudgetSnapshot& snap);

// KEYWARDEN BUDGETS: the lease and every budgeted namespace. `holder` and `ttl_ms` are the
// lease key's value and PTTL just read from Redis.
std::string budgetsReply(const BudgetSnapshot& snap, int proto, std::string_view holder,
                         int64_t ttl_ms);

}  // namespace kw

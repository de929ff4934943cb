// The memory-budget keys of the TOML file (budget_config.h). config_loader.cc hands them over
// as they come (claimed, so they are not "unknown"); errors go back through its sink with
// file:line like every other configuration error.
#pragma once

#include "common/budget_config.h"
#include "common/policy_config.h"
#include "common/ratelimit_config_loader.h"  // ConfigKey, ConfigErrorSink

namespace kw {

// The [budgets] section. Read before the namespaces: their checks need the lease key.
void readBudgetSection(const ConfigKey& section, const ConfigErrorSink& error, BudgetConfig* out);

// [[namespaces]] memory_budget_bytes, for the namespace just read (called once per namespace, in
// file order, so out->namespace_budgets lines up with the namespace ids). A budget needs a pattern
// that starts with literal text (the Redis prefix the enforcer scans and tracks), and is refused
// on a blacklist namespace: an evicted revocation would make a revoked token valid again.
void readNamespaceBudget(const NamespaceConfig& ns, const ConfigKey& budget,
                         const ConfigErrorSink& error, BudgetConfig* out);

}  // namespace kw

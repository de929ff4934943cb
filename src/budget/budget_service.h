// The memory budgets on a worker's loop (worker 0): the enforcer (budget_enforcer.h) with its own
// untracked link (budget_link.h) and its own invalidation feed (tracking/invalidation_feed.h,
// subscribed only while this keywarden holds the lease), a timer, the config it follows across
// reloads, the snapshot it publishes for INFO / KEYWARDEN / metrics, and the upstream checks
// (doctor.h) logged at startup. Nothing here is on the request path.
#pragma once

namespace kw {

class Worker;
class BudgetStatus;

// Installs the service on `worker` (Worker::addService), publishing its figures to `status`.
// BudgetFeature calls it for worker 0.
void installBudgetService(Worker& worker, BudgetStatus* status);

}  // namespace kw

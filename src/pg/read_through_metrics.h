// Prometheus families of the PostgreSQL read-through: per namespace (fills, missing rows,
// coalesced waiters, errors by kind, notifications, invalidations, query latency) and per source
// (circuit state, connections, queries, errors). Labels are configured names only.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

#include "pg/read_through_hub.h"

namespace kw::pg {

void appendReadThroughMetrics(const ReadThroughHub& hub,
                              std::vector<prometheus::MetricFamily>* out);

}  // namespace kw::pg

// The near cache's, the blacklist replicas' and the invalidation feeds' metric families, added to
// every scrape by MetricsCollector.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace kw {

class CacheStatsRegistry;

// `ns_labels[i]` labels namespace slot i (as the collector labels them).
void appendCacheFamilies(const CacheStatsRegistry& stats, const std::vector<std::string>& ns_labels,
                         std::vector<prometheus::MetricFamily>* out);

}  // namespace kw

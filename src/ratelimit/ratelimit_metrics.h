// The rate limiters' metric families, added to every scrape by MetricsCollector.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace kw {

class RateLimitRuntime;

// `ns_labels[i]` labels namespace slot i (as the collector labels them).
void appendRateLimitFamilies(RateLimitRuntime& rt, const std::vector<std::string>& ns_labels,
                             std::vector<prometheus::MetricFamily>* out);

}  // namespace kw

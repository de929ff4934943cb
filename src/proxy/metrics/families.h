// Building prometheus-cpp metric families by hand: the collector and each feature's metrics
// (cache_metrics.cc, ratelimit_metrics.cc, budget_metrics.cc, pg/read_through_metrics.cc) fill
// families from their own counters at scrape time.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <utility>

namespace kw {

inline prometheus::MetricFamily family(std::string name, std::string help,
                                       prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

}  // namespace kw

// Building prometheus-cpp metric families by hand: the collector and each feature's metrics
// (cache_metrics.cc, ratelimit_metrics.cc, budget_metrics.cc, pg/read_through_metrics.cc) fill
// families from their own counters at scrape time.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kw {

inline prometheus::MetricFamily family(std::string name, std::string help,
                                       prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

// A label value made of printable ASCII (others become '_'), at most 100 bytes: names that come
// from clients or keys.
inline std::string printableLabel(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 100; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '_');
  }
  return out;
}

// One sample; its value goes in the field the family's type is read from.
inline void addSample(prometheus::MetricFamily* f,
                      std::vector<prometheus::ClientMetric::Label> labels, double v) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (f->type == prometheus::MetricType::Counter)
    m.counter.value = v;
  else
    m.gauge.value = v;
  f->metric.push_back(std::move(m));
}

}  // namespace kw

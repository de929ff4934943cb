#include "ratelimit/ratelimit_metrics.h"

#include <map>
#include <utility>

#include "proxy/metrics/families.h"
#include "ratelimit/ratelimit_runtime.h"

namespace kw {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

const char* const kModeNames[] = {"local", "allow", "deny"};

}  // namespace

void appendRateLimitFamilies(RateLimitRuntime& rt, const std::vector<std::string>& ns_labels,
                             std::vector<MetricFamily>* out) {
  const RateLimitStats& st = rt.stats();
  {
    auto f = family("keywarden_ratelimit_refused_total",
                    "Commands refused by a protective rate limit, by kind (user, namespace, "
                    "client) and name (client addresses are summed under \"*\").",
                    MetricType::Counter);
    rt.limiters().forEachNamed(
        [&](std::string_view kind, std::string_view name, const GcraCell& cell) {
          addSample(&f, {{"kind", std::string(kind)}, {"name", printableLabel(name)}},
                    static_cast<double>(cell.refused()));
        });
    addSample(&f, {{"kind", "client"}, {"name", "*"}},
              static_cast<double>(st.refused_client.load(std::memory_order_relaxed)));
    out->push_back(std::move(f));
  }
  {
    auto f = family("keywarden_throttle_fallback_total",
                    "CL.THROTTLE calls answered without Redis (unreachable), by the key's "
                    "namespace and the namespace's rate_limit_fallback mode.",
                    MetricType::Counter);
    std::map<std::pair<std::string, size_t>, uint64_t> series;
    for (size_t ns = 0; ns < kNamespaceSlots; ++ns) {
      for (size_t m = 0; m < kThrottleFallbackModes; ++m) {
        const uint64_t v = st.throttle_fallback[ns][m].load(std::memory_order_relaxed);
        if (v)
          series[{ns < ns_labels.size() ? ns_labels[ns] : "other", m}] += v;
      }
    }
    for (const auto& [k, v] : series)
      addSample(&f, {{"namespace", k.first}, {"mode", kModeNames[k.second]}},
                static_cast<double>(v));
    if (!f.metric.empty())
      out->push_back(std::move(f));
  }
  {
    auto f = family("keywarden_throttle_code_loads_total",
                    "FUNCTION LOAD / SCRIPT LOAD sent because Redis no longer had CL.THROTTLE's "
                    "code (flushed, restarted without persistence).",
                    MetricType::Counter);
    addSample(&f, {}, static_cast<double>(st.code_loads.load(std::memory_order_relaxed)));
    out->push_back(std::move(f));
  }
  {
    auto f =
        family("keywarden_throttle_fallback_active",
               "1 while CL.THROTTLE is being answered without Redis, else 0.", MetricType::Gauge);
    addSample(&f, {}, rt.inOutage() ? 1 : 0);
    out->push_back(std::move(f));
  }
}

}  // namespace kw

#include "pg/read_through_metrics.h"

#include <limits>
#include <string>

#include "proxy/metrics/families.h"

namespace kw::pg {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

}  // namespace

void appendReadThroughMetrics(const ReadThroughHub& hub, std::vector<MetricFamily>* out) {
  struct NsCounter {
    const char* name;
    const char* help;
    const Counter ReadThroughStats::*field;
  };
  static const NsCounter kNs[] = {
      {"misses", "Read-through GETs Redis answered nil (or could not answer).",
       &ReadThroughStats::misses},
      {"fills", "Values read from PostgreSQL and written to Redis by this process.",
       &ReadThroughStats::fills},
      {"fill_lost_race", "Fills whose SET NX found a value written meanwhile (that one served).",
       &ReadThroughStats::fill_lost_race},
      {"missing_rows", "Queries that found no row.", &ReadThroughStats::missing_rows},
      {"negative_hits", "Misses answered nil from the negative cache, without a query.",
       &ReadThroughStats::negative_hits},
      {"coalesced", "Misses that waited for another miss's query (single-flight).",
       &ReadThroughStats::coalesced},
      {"queries", "Queries sent for misses.", &ReadThroughStats::queries},
      {"direct", "Misses answered from PostgreSQL while Redis was down (nothing cached).",
       &ReadThroughStats::direct},
      {"warmed", "Keys filled by KEYWARDEN WARM.", &ReadThroughStats::warmed},
      {"notifications", "Notifications received on the namespace's channel.",
       &ReadThroughStats::notifications},
      {"invalidations", "Keys deleted from Redis by a notification.",
       &ReadThroughStats::invalidations},
  };
  for (const NsCounter& c : kNs) {
    auto f = family(std::string("keywarden_readthrough_") + c.name + "_total", c.help,
                    MetricType::Counter);
    for (size_t i = 0; i < hub.namespaceCount(); ++i)
      addSample(&f, {{"namespace", hub.ns(i).cfg.ns}},
                static_cast<double>(read(hub.ns(i).stats.*c.field)));
    out->push_back(std::move(f));
  }
  {
    auto f = family("keywarden_readthrough_errors_total",
                    "Misses answered with an error, by kind (unavailable, timeout, bad_data, "
                    "query_error).",
                    MetricType::Counter);
    for (size_t i = 0; i < hub.namespaceCount(); ++i)
      for (size_t k = 2; k < kOutcomeKinds; ++k)
        addSample(
            &f,
            {{"namespace", hub.ns(i).cfg.ns}, {"kind", kindName(static_cast<RowOutcome::Kind>(k))}},
            static_cast<double>(read(hub.ns(i).stats.errors[k])));
    out->push_back(std::move(f));
  }
  {
    auto f = family("keywarden_readthrough_query_seconds", "PostgreSQL query latency of fills.",
                    MetricType::Histogram);
    for (size_t i = 0; i < hub.namespaceCount(); ++i) {
      const LatencyHistogram& h = hub.ns(i).stats.latency;
      ClientMetric m;
      m.label = {{"namespace", hub.ns(i).cfg.ns}};
      uint64_t cumulative = 0;
      for (size_t b = 0; b < h.buckets.size(); ++b) {
        cumulative += read(h.buckets[b]);
        const double le = b < LatencyHistogram::kBoundsMs.size()
                              ? LatencyHistogram::kBoundsMs[b] / 1000.0
                              : std::numeric_limits<double>::infinity();
        m.histogram.bucket.push_back({cumulative, le});
      }
      m.histogram.sample_count = cumulative;
      m.histogram.sample_sum = static_cast<double>(read(h.sum_us)) / 1e6;
      f.metric.push_back(std::move(m));
    }
    out->push_back(std::move(f));
  }
  {
    auto state =
        family("keywarden_readthrough_circuit_open",
               "1 while the source's circuit breaker is open or half-open.", MetricType::Gauge);
    auto conns = family("keywarden_readthrough_source_connections",
                        "Connections to the source open now (all workers).", MetricType::Gauge);
    auto listening = family("keywarden_readthrough_listening",
                            "1 while the source's LISTEN connection is up (sources with "
                            "notify channels).",
                            MetricType::Gauge);
    auto queries = family("keywarden_readthrough_source_queries_total",
                          "Statements sent to the source (probes included).", MetricType::Counter);
    auto errors = family("keywarden_readthrough_source_errors_total",
                         "Failures of the source: connect failures, lost connections, timeouts, "
                         "query errors.",
                         MetricType::Counter);
    auto losses = family("keywarden_readthrough_listen_losses_total",
                         "Times the LISTEN connection was lost.", MetricType::Counter);
    for (size_t s = 0; s < hub.sourceCount(); ++s) {
      const SourceState& src = hub.source(s);
      const std::vector<ClientMetric::Label> l = {{"source", src.config().name}};
      addSample(&state, l, src.snapshot().state == CircuitBreaker::State::kClosed ? 0 : 1);
      addSample(&conns, l, static_cast<double>(src.conns_ready.load(std::memory_order_relaxed)));
      addSample(&listening, l, src.listening.load(std::memory_order_relaxed) ? 1 : 0);
      addSample(&queries, l, static_cast<double>(read(src.queries)));
      addSample(&errors, l, static_cast<double>(read(src.errors)));
      addSample(&losses, l, static_cast<double>(read(src.listen_losses)));
    }
    for (auto* f : {&state, &conns, &listening, &queries, &errors, &losses})
      out->push_back(std::move(*f));
  }
}

}  // namespace kw::pg

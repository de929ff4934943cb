#include "cache/cache_metrics.h"

#include <array>
#include <map>
#include <utility>

#include "cache/cache_stats.h"
#include "proxy/metrics/families.h"

namespace kw {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// One family with a value per namespace, summed over the workers' shards.
template <typename Get>
void perNamespace(const CacheStatsRegistry& stats, const std::vector<std::string>& ns_labels,
                  const char* name, const char* help, bool gauge, Get get,
                  std::vector<MetricFamily>* out) {
  std::array<double, kNamespaceSlots> sum{};
  std::array<bool, kNamespaceSlots> seen{};
  stats.forEach([&](const CacheStatsShard& s) {
    for (size_t i = 0; i < kNamespaceSlots; ++i) {
      const double v = get(s.ns[i]);
      sum[i] += v;
      seen[i] = seen[i] || v != 0;
    }
  });
  auto f = family(name, help, gauge ? MetricType::Gauge : MetricType::Counter);
  std::map<std::string, double> series;  // slots sharing a label ("other") are summed
  for (size_t i = 0; i < kNamespaceSlots; ++i)
    if (seen[i])
      series[i < ns_labels.size() ? ns_labels[i] : "other"] += sum[i];
  for (const auto& [label, v] : series)
    addSample(&f, {{"namespace", label}}, v);
  if (!f.metric.empty())
    out->push_back(std::move(f));
}

}  // namespace

void appendCacheFamilies(const CacheStatsRegistry& stats, const std::vector<std::string>& ns_labels,
                         std::vector<MetricFamily>* out) {
  auto c = [](const Counter& x) { return static_cast<double>(x.get()); };
  auto g = [](const Gauge& x) { return static_cast<double>(x.get()); };
  perNamespace(
      stats, ns_labels, "keywarden_near_cache_hits_total", "Reads answered from the near cache.",
      false, [&](const NsCacheCounters& n) { return c(n.hits); }, out);
  perNamespace(
      stats, ns_labels, "keywarden_near_cache_misses_total", "Cacheable reads that went to Redis.",
      false, [&](const NsCacheCounters& n) { return c(n.misses); }, out);
  perNamespace(
      stats, ns_labels, "keywarden_near_cache_fills_total", "Entries stored from Redis replies.",
      false, [&](const NsCacheCounters& n) { return c(n.fills); }, out);
  perNamespace(
      stats, ns_labels, "keywarden_near_cache_fills_dropped_total",
      "Replies not stored because their key was invalidated while they were in flight.", false,
      [&](const NsCacheCounters& n) { return c(n.fills_dropped); }, out);
  perNamespace(
      stats, ns_labels, "keywarden_near_cache_invalidations_total",
      "Entries removed because Redis (or a write through this proxy) changed their key.", false,
      [&](const NsCacheCounters& n) { return c(n.invalidations); }, out);
  perNamespace(
      stats, ns_labels, "keywarden_near_cache_evictions_total",
      "Entries removed to stay within near_cache.max_bytes.", false,
      [&](const NsCacheCounters& n) { return c(n.evictions); }, out);
  perNamespace(
      stats, ns_labels, "keywarden_near_cache_expired_total",
      "Entries dropped at their key's TTL or near_cache_max_ttl_ms.", false,
      [&](const NsCacheCounters& n) { return c(n.expired); }, out);
  perNamespace(
      stats, ns_labels, "keywarden_near_cache_entries", "Entries in the near cache.", true,
      [&](const NsCacheCounters& n) { return g(n.entries); }, out);
  perNamespace(
      stats, ns_labels, "keywarden_near_cache_bytes",
      "Bytes the near cache holds (entries, keys, values, index).", true,
      [&](const NsCacheCounters& n) { return g(n.bytes); }, out);
  {
    // Blacklist checks by where they were answered.
    std::map<std::pair<std::string, int>, double> series;
    stats.forEach([&](const CacheStatsShard& s) {
      for (size_t i = 0; i < kNamespaceSlots; ++i) {
        const std::string& label = i < ns_labels.size() ? ns_labels[i] : "other";
        if (const double v = c(s.ns[i].bl_local))
          series[{label, 0}] += v;
        if (const double v = c(s.ns[i].bl_redis))
          series[{label, 1}] += v;
      }
    });
    auto f = family("keywarden_blacklist_checks_total",
                    "Blacklist EXISTS/GET checks, answered from the worker's replica "
                    "(result=\"local\") or sent to Redis (result=\"redis\": replica not known "
                    "complete, or the key being fetched).",
                    MetricType::Counter);
    for (const auto& [k, v] : series)
      addSample(&f, {{"namespace", k.first}, {"result", k.second == 0 ? "local" : "redis"}}, v);
    if (!f.metric.empty())
      out->push_back(std::move(f));
  }
  perNamespace(
      stats, ns_labels, "keywarden_blacklist_fail_open_total",
      "Blacklist checks answered \"not revoked\" with the replica stale and Redis "
      "unreachable (blacklist_fail_open).",
      false, [&](const NsCacheCounters& n) { return c(n.bl_fail_open); }, out);
  perNamespace(
      stats, ns_labels, "keywarden_blacklist_entries",
      "Entries in the blacklist replicas (every worker's).", true,
      [&](const NsCacheCounters& n) { return g(n.bl_entries); }, out);
  perNamespace(
      stats, ns_labels, "keywarden_blacklist_bytes",
      "Bytes the blacklist replicas hold (every worker's).", true,
      [&](const NsCacheCounters& n) { return g(n.bl_bytes); }, out);

  double keys = 0, flushes = 0, losses = 0, established = 0, covered = 0, workers = 0, complete = 0,
         replicas = 0;
  stats.forEach([&](const CacheStatsShard& s) {
    keys += c(s.feed.keys);
    flushes += c(s.feed.flushes);
    losses += c(s.feed.losses);
    established += c(s.feed.established);
    covered += g(s.feed.covered);
    complete += g(s.replicas_complete);
    replicas += g(s.replicas);
    workers += 1;
  });
  auto one = [&](const char* name, const char* help, double v, bool gauge) {
    auto f = family(name, help, gauge ? MetricType::Gauge : MetricType::Counter);
    addSample(&f, {}, v);
    out->push_back(std::move(f));
  };
  one("keywarden_invalidation_keys_total", "Invalidated keys received from Redis's tracking.", keys,
      false);
  one("keywarden_invalidation_flushes_total", "Null invalidations received (FLUSHALL, FLUSHDB).",
      flushes, false);
  one("keywarden_invalidation_feed_losses_total",
      "Times an invalidation feed was lost (cached reads then go to Redis until it is back).",
      losses, false);
  one("keywarden_invalidation_feed_established_total",
      "Times an invalidation feed started covering.", established, false);
  one("keywarden_invalidation_feeds_covered", "Workers whose invalidation feed covers now.",
      covered, true);
  one("keywarden_blacklist_replicas_complete",
      "Blacklist replicas known complete (answering locally), over every worker.", complete, true);
  one("keywarden_blacklist_replicas", "Blacklist replicas, over every worker.", replicas, true);
  (void)workers;
}

}  // namespace kw

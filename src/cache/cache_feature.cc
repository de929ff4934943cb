#include "cache/cache_feature.h"

#include "cache/cache_info.h"
#include "cache/cache_metrics.h"
#include "cache/cache_worker.h"
#include "common/config.h"

namespace kw {

void CacheFeature::startWorker(Worker& worker) {
  installCacheStage(worker, &stats_);
}

bool CacheFeature::keywarden(std::string_view sub, AdminRequest& req) {
  if (sub != "cache")
    return false;
  keywardenCache(req);
  return true;
}

void CacheFeature::keywardenHelp(std::vector<std::string>* lines) const {
  lines->emplace_back("CACHE STATS");
  lines->emplace_back(
      "    The near cache and the blacklist replicas: sizes, hits, misses, invalidations.");
  lines->emplace_back("CACHE FLUSH [<namespace>]");
  lines->emplace_back(
      "    Empty the near cache (of one namespace); without one, reload the blacklists too.");
}

void CacheFeature::appendInfo(std::string_view section, const Config& config,
                              const CompiledPolicy& policy, std::string* out) const {
  if (section == "keywarden")
    appendCacheInfo(out, stats_, policy, config);
}

void CacheFeature::appendConfig(const Config& c, ConfigEntries* out) const {
  auto add = [out](std::string k, std::string v) { out->emplace_back(std::move(k), std::move(v)); };
  add("near_cache.max_bytes", std::to_string(c.cache.max_bytes));
  add("near_cache.admission",
      c.cache.admission == CacheAdmission::kSecondRead ? "second_read" : "first_read");
  add("near_cache.heartbeat_ms", std::to_string(c.cache.heartbeat_ms));
  add("near_cache.feed_timeout_ms", std::to_string(c.cache.feed_timeout_ms));
  for (size_t i = 0; i < c.policy.namespaces.size(); ++i) {
    const NamespaceConfig& ns = c.policy.namespaces[i];
    const NamespaceCacheConfig nc =
        i < c.cache.namespaces.size() ? c.cache.namespaces[i] : NamespaceCacheConfig{};
    const std::string p = "namespaces." + ns.name + ".";
    if (ns.kind == NamespaceKind::kBlacklist) {
      add(p + "blacklist_fail_open", nc.fail_open ? "yes" : "no");
    } else {
      add(p + "near_cache", nc.near_cache ? "yes" : "no");
      if (nc.near_cache)
        add(p + "near_cache_max_ttl_ms", std::to_string(nc.max_ttl_ms));
    }
  }
}

void CacheFeature::appendMetrics(const std::vector<std::string>& ns_labels,
                                 std::vector<prometheus::MetricFamily>* out) const {
  appendCacheFamilies(stats_, ns_labels, out);
}

}  // namespace kw

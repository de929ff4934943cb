// The near cache and the token blacklist as a feature (proxy/feature.h): the cache stage of every
// worker (cache_worker.h), KEYWARDEN CACHE, INFO's near cache and blacklist lines, their settings
// in KEYWARDEN CONFIG GET and their metric families. It owns the workers' stats shards.
#pragma once

#include "cache/cache_stats.h"
#include "proxy/feature.h"

namespace kw {

class CacheFeature final : public Feature {
public:
  std::string_view name() const override { return "cache"; }
  void startWorker(Worker& worker) override;
  bool keywarden(std::string_view sub, AdminRequest& req) override;
  void keywardenHelp(std::vector<std::string>* lines) const override;
  void appendInfo(std::string_view section, const Config& config, const CompiledPolicy& policy,
                  std::string* out) const override;
  void appendConfig(const Config& config, ConfigEntries* out) const override;
  void appendMetrics(const std::vector<std::string>& ns_labels,
                     std::vector<prometheus::MetricFamily>* out) const override;

private:
  void keywardenCache(AdminRequest& req);  // cache_admin.cc

  CacheStatsRegistry stats_;
};

}  // namespace kw

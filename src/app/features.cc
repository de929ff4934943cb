#include "app/features.h"

#include <memory>

#include "budget/budget_feature.h"
#include "cache/cache_feature.h"
#include "cluster/cluster_source.h"
#include "pg/read_through_feature.h"
#include "ratelimit/ratelimit_feature.h"
#include "sentinel/sentinel_source.h"

namespace kw {

Features makeFeatures(const Config& config) {
  Features f;
  // Rate limiting first: its gate refuses before anything is looked up, and CL.THROTTLE is
  // answered before the caches see it.
  f.push_back(std::make_unique<RateLimitFeature>());
  f.push_back(std::make_unique<CacheFeature>());  // near cache and token blacklist
  // Read-through after the near cache, which hands it the nils of reads it forwards. PostgreSQL is
  // never needed to start: a source that is down opens its circuit and is probed.
  if (!config.pg.sources.empty())
    f.push_back(std::make_unique<ReadThroughFeature>(config.pg));
  f.push_back(std::make_unique<BudgetFeature>());  // nothing on the request path
  return f;
}

}  // namespace kw

namespace kw {

std::unique_ptr<TopologySource> makeTopologySource(const Config& config) {
  if (config.upstream.mode == UpstreamMode::kCluster)
    return std::make_unique<cluster::ClusterSource>(config.upstream);
  if (config.upstream.mode == UpstreamMode::kSentinel)
    return std::make_unique<sentinel::SentinelSource>(config.upstream);
  return makeStandaloneSource(config.upstream);
}

}  // namespace kw

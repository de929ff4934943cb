// What operators see of the near cache and the blacklists: INFO's lines (in the keywarden
// section), and KEYWARDEN CACHE STATS. Summed over the workers' stats shards, on any thread.
#pragma once

#include <string>

namespace kw {

class CompiledPolicy;
class CacheStatsRegistry;
struct Config;

// "field:value\r\n" lines for INFO.
void appendCacheInfo(std::string* out, const CacheStatsRegistry& stats,
                     const CompiledPolicy& policy, const Config& config);
// KEYWARDEN CACHE STATS's reply in protocol `proto`.
std::string cacheStatsReply(const CacheStatsRegistry& stats, const CompiledPolicy& policy,
                            const Config& config, int proto);

}  // namespace kw

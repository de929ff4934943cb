// The near cache and blacklist stage of one worker, wired to it: the worker's upstream pool (the
// feed's link), its UpstreamClient (PTTLs, loads, fetches), a timer for heartbeats and retries,
// and its stats shard. CacheFeature::startWorker installs it.
#pragma once

#include <memory>

#include "cache/cache_stage.h"
#include "proxy/request_stage.h"

namespace kw {

class Worker;

class CacheStatsRegistry;

void installCacheStage(Worker& worker, CacheStatsRegistry* stats);

// The cache stage of `worker` (nullptr if none): for operator commands, on the worker's thread.
CacheStage* workerCacheStage(Worker& worker);

}  // namespace kw

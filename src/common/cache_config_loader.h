// The near-cache keys of the TOML file (cache_config.h). config_loader.cc reads everything else
// and hands these keys over as they come (marked as known there, so they are not "unknown");
// errors go back through its sink with file:line like every other configuration error.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

// The packaged libtomlplusplus is built with exceptions; nothing here throws (values are only
// inspected).
#include <toml++/toml.h>

#include "common/config_key.h"

#include "common/cache_config.h"
#include "common/policy_config.h"

namespace kw {

// near_cache, near_cache_max_ttl_ms and blacklist_fail_open of the [[namespaces]] entry `ns` just
// read (called once per namespace, in file order, so out->namespaces lines up with them).
void readNamespaceCache(const NamespaceConfig& ns, const ConfigKey& near_cache,
                        const ConfigKey& max_ttl_ms, const ConfigKey& fail_open,
                        const ConfigErrorSink& error, CacheConfig* out);

// The [near_cache] section.
void readNearCacheSection(const ConfigKey& section, const ConfigErrorSink& error, CacheConfig* out);

}  // namespace kw

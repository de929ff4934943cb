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

#include "common/cache_config.h"
#include "common/policy_config.h"

namespace kw {

// One key handed over by config_loader.cc.
struct CacheConfigKey {
  const toml::node* node = nullptr;  // nullptr: absent
  std::string path;                  // as errors name it: "namespaces[2].near_cache"
};
using CacheConfigErrors = std::function<void(uint32_t line, const std::string& message)>;

// near_cache, near_cache_max_ttl_ms and blacklist_fail_open of the [[namespaces]] entry `ns` just
// read (called once per namespace, in file order, so out->namespaces lines up with them).
void readNamespaceCache(const NamespaceConfig& ns, const CacheConfigKey& near_cache,
                        const CacheConfigKey& max_ttl_ms, const CacheConfigKey& fail_open,
                        const CacheConfigErrors& error, CacheConfig* out);

// The [near_cache] section.
void readNearCacheSection(const CacheConfigKey& section, const CacheConfigErrors& error,
                          CacheConfig* out);

}  // namespace kw

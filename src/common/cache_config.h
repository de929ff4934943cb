// Near cache and token blacklist configuration: the global [near_cache] section and the
// per-namespace keys near_cache, near_cache_max_ttl_ms and blacklist_fail_open (a namespace's
// kind = "blacklist" itself is policy: policy_config.h). Read by cache_config_loader.cc.
#pragma once

#include <cstdint>
#include <vector>

namespace kw {

// Per [[namespaces]] entry, in file order (the same index as PolicyConfig::namespaces).
struct NamespaceCacheConfig {
  bool near_cache = false;  // reads answered from the worker's near cache
  // How long an entry may be served without Redis confirming it (0: until the key's own TTL or
  // an invalidation, whichever comes first).
  uint64_t max_ttl_ms = 0;
  // Blacklist namespaces: with the replica not known complete and Redis unreachable, answer
  // "not revoked" (counted and logged) instead of an error.
  bool fail_open = false;
};

// Whether a key read once is cached at once, or only from its second read (within the recent
// past the admission filter remembers): one-off reads then do not push hot keys out.
enum class CacheAdmission : uint8_t { kFirstRead, kSecondRead };

struct CacheConfig {
  // The budget of every worker's near cache together (each worker gets max_bytes / workers).
  uint64_t max_bytes = 64ull << 20;
  CacheAdmission admission = CacheAdmission::kFirstRead;
  // The invalidation feed: a PING this often; a feed silent for feed_timeout_ms is lost.
  uint32_t heartbeat_ms = 200;
  uint32_t feed_timeout_ms = 1000;
  std::vector<NamespaceCacheConfig> namespaces;
};

}  // namespace kw

// The whole runtime configuration. Loaded by config_loader.cc from TOML, validated completely,
// then shared read-only between workers as std::shared_ptr<const Config> (swapped on reload).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/budget_config.h"
#include "common/cache_config.h"
#include "common/host_port.h"
#include "common/policy_config.h"
#include "common/ratelimit_config.h"
#include "pg/pg_config.h"
#include "tls/tls_config.h"

namespace kw {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Worker threads when the configuration says 0: one per four CPUs, at least one. A worker at P1
// spends most of its time in one read and one write per request, and on a host it shares with
// Redis and the application, a second worker on a 2-4 core machine costs more in scheduling and
// cross-core wake-ups than it gives (bench/results/, README "Sizing workers").
inline unsigned defaultWorkers(unsigned cpus) {
  return cpus / 4 > 1 ? cpus / 4 : 1;
}

struct ServerConfig {
  HostPort listen{"127.0.0.1", 6380};  // or "unix:/path" (a Unix socket); "": none (TLS only)
  uint32_t unix_mode = 0660;           // the Unix socket file's permissions
  unsigned workers = 0;                // 0: defaultWorkers(CPUs)
  uint32_t shutdown_deadline_ms = 5000;
  LogLevel log_level = LogLevel::kInfo;
};

// What the upstream is: one Redis at `address`, or a Redis Cluster found from `seeds`.
enum class UpstreamMode : uint8_t { kStandalone, kCluster, kSentinel };

inline const char* upstreamModeName(UpstreamMode mode) {
  switch (mode) {
  case UpstreamMode::kStandalone:
    return "standalone";
  case UpstreamMode::kCluster:
    return "cluster";
  case UpstreamMode::kSentinel:
    return "sentinel";
  }
  return "?";
}

struct UpstreamConfig {
  UpstreamMode mode = UpstreamMode::kStandalone;
  HostPort address{"127.0.0.1", 6379};
  // Cluster: nodes asked for the slot map (any one answering is enough); the map is read again
  // every topology_refresh_ms, and at once on MOVED, a lost node, CLUSTERDOWN or TRYAGAIN.
  std::vector<HostPort> seeds;
  uint32_t topology_refresh_ms = 5000;
  unsigned max_redirects = 5;  // MOVED/ASK followed per request before the client gets an error
  // Sentinel (mode = "sentinel", never inferred): the sentinels asked for the master named
  // master_name, with their own credentials; username/password stay the data nodes'.
  std::vector<HostPort> sentinels;
  std::string master_name;
  std::string sentinel_username;  // empty: AUTH <sentinel_password> only
  std::string sentinel_password;  // empty: no AUTH towards the sentinels
  std::string username;           // empty: AUTH <password> only
  std::string password;           // empty: no AUTH
  int db = 0;
  unsigned connections = 1;  // shared connections per worker per protocol version: one gives
                             // the deepest pipelines, the least Redis CPU per request
  uint32_t connect_timeout_ms = 1000;
  uint32_t request_timeout_ms = 5000;
  uint32_t reconnect_backoff_min_ms = 50;
  uint32_t reconnect_backoff_max_ms = 5000;
  unsigned pinned_pool_size = 16;  // idle clean pinned connections kept per worker
  // A shared link whose head request is older than this is stuck behind a busy script (or a
  // CLIENT PAUSE): clients with nothing in flight there move to another link. 0: Redis's own
  // busy-reply-threshold (CONFIG GET at startup, followed through CONFIG SET via keywarden).
  uint32_t busy_threshold_ms = 0;
  UpstreamTlsConfig tls;  // tls, tls_ca_file, ... (src/tls/tls_config.h)
};

struct LimitsConfig {
  uint32_t max_clients = 10000;
  uint32_t idle_timeout_s = 0;  // 0: never
  // Replies owed to one client, written or not: over it the client's input is paused until it
  // reads (back-pressure); a client that reads nothing for reply_stall_timeout_s is closed.
  uint64_t max_reply_buffer_bytes = 64ull << 20;
  uint32_t reply_stall_timeout_s = 30;
  uint64_t max_query_buffer_bytes = 1ull << 30;
  uint64_t max_bulk_len = 512ull << 20;
  uint32_t max_array_len = 1u << 20;
  uint32_t max_inline_len = 64u << 10;
  // Before a client has authenticated (Redis uses the same two numbers).
  uint64_t preauth_max_bulk_len = 16384;
  uint32_t preauth_max_array_len = 10;
};

struct MetricsConfig {
  bool enabled = true;  // the HTTP endpoint (/metrics, /healthz)
  // Per-command recording on the request path; also feeds INFO's keyspace hits/misses and the
  // per-namespace counters of INFO and KEYWARDEN NAMESPACES. Off only to measure its cost.
  bool collect = true;
  HostPort listen{"127.0.0.1", 9121};
};

struct SlowlogConfig {
  int64_t threshold_us = 10000;  // < 0: off; 0: every request
  uint32_t max_len = 128;
};

struct Config {
  std::string source_path;  // file it was loaded from, for reload and error messages
  ServerConfig server;
  UpstreamConfig upstream;
  LimitsConfig limits;
  MetricsConfig metrics;
  PolicyConfig policy;
  SlowlogConfig slowlog;
  RateLimitConfig rate_limit;
  PgConfig pg;        // [[postgres]] sources and read-through namespaces (src/pg/)
  CacheConfig cache;  // [near_cache] and the namespaces' cache keys (parallel to policy.namespaces)
  BudgetConfig budgets;  // [budgets] and memory_budget_bytes (parallel to policy.namespaces)
  TlsServerConfig tls;   // [tls]: the TLS listener for clients (src/tls/)
};

}  // namespace kw

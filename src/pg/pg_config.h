// PostgreSQL read-through configuration: [[postgres]] sources and each namespace's
// `read_through = { ... }` table. Plain data, validated by pg_config_loader.cc at load time
// (called from config_loader.cc), shared read-only with the rest of the Config.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kw {

struct PostgresSourceConfig {
  std::string name;
  std::string conninfo;      // libpq conninfo; the password comes from PGPASSFILE / ~/.pgpass
  unsigned connections = 2;  // per worker
  uint32_t query_timeout_ms = 2000;
  uint32_t connect_timeout_ms = 2000;
  // Circuit breaker: consecutive failures (connect, lost connection, timeout) that open it, and
  // how often a background probe tries the source while it is open.
  uint32_t circuit_failures = 3;
  uint32_t circuit_probe_ms = 1000;
  int line = 0;

  bool operator==(const PostgresSourceConfig&) const = default;
};

struct ReadThroughConfig {
  std::string ns;                   // the namespace it belongs to
  std::string pattern;              // that namespace's key pattern
  uint64_t ttl_s = 0;               // the namespace's default_ttl_s: the TTL of a filled key
  std::string source;               // a [[postgres]] name
  std::string query;                // zero rows, or one row whose first column is the value (text)
  std::vector<std::string> params;  // pattern placeholder names, bound as $1..$n
  std::vector<uint32_t> param_captures;  // for each param, its placeholder's index in the pattern
  uint64_t negative_ttl_s = 30;          // a missing row is remembered this long (0: never)
  std::string notify_channel;            // "": no LISTEN
  int line = 0;

  bool operator==(const ReadThroughConfig&) const = default;
};

struct PgConfig {
  std::vector<PostgresSourceConfig> sources;
  std::vector<ReadThroughConfig> read_through;

  bool operator==(const PgConfig&) const = default;
  const PostgresSourceConfig* source(const std::string& name) const {
    for (const auto& s : sources)
      if (s.name == name)
        return &s;
    return nullptr;
  }
};

}  // namespace kw

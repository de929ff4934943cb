#include "common/cache_config_loader.h"

#include <optional>

#include "policy/key_pattern.h"

namespace kw {
namespace {

constexpr int64_t kMaxBytes = int64_t{1} << 40;
constexpr int64_t kMaxMs = int64_t{100} * 365 * 24 * 3600 * 1000;
constexpr size_t kMaxShown = 80;

std::string quoteName(const std::string& s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i)
    out += (static_cast<unsigned char>(s[i]) < 0x20 || s[i] == 0x7f) ? '?' : s[i];
  return out + "'";
}

}  // namespace

void readNamespaceCache(const NamespaceConfig& ns, const ConfigKey& near_cache,
                        const ConfigKey& max_ttl_ms, const ConfigKey& fail_open,
                        const ConfigErrorSink& error, CacheConfig* out) {
  NamespaceCacheConfig c;
  const bool blacklist = ns.kind == NamespaceKind::kBlacklist;
  if (near_cache.node && readConfigBool(*near_cache.node, near_cache.path, error, &c.near_cache) &&
      c.near_cache) {
    // Invalidations come from Redis by key prefix (CLIENT TRACKING ... BCAST PREFIX): a pattern
    // that starts with a placeholder has none to ask for.
    std::optional<KeyPattern> p = KeyPattern::parse(ns.pattern, nullptr);
    if (blacklist) {
      error(configLine(*near_cache.node),
            near_cache.path + ": not for a blacklist namespace (its reads are answered from the "
                              "blacklist replica already)");
    } else if (p && p->literalPrefix().empty()) {
      error(configLine(*near_cache.node),
            near_cache.path + ": namespace " + quoteName(ns.name) +
                " cannot be cached: its pattern must start with literal text (the Redis key "
                "prefix its invalidations are tracked by)");
    }
  }
  if (max_ttl_ms.node &&
      readConfigInt(*max_ttl_ms.node, max_ttl_ms.path, 0, kMaxMs, error, &c.max_ttl_ms) &&
      c.max_ttl_ms > 0 && !c.near_cache) {
    error(configLine(*max_ttl_ms.node), max_ttl_ms.path + ": needs near_cache = true");
  }
  if (fail_open.node && readConfigBool(*fail_open.node, fail_open.path, error, &c.fail_open) &&
      !blacklist) {
    error(configLine(*fail_open.node), fail_open.path + ": only for kind = \"blacklist\"");
  }
  out->namespaces.push_back(c);
}

void readNearCacheSection(const ConfigKey& section, const ConfigErrorSink& error,
                          CacheConfig* out) {
  if (section.node == nullptr)
    return;
  const auto* t = section.node->as_table();
  if (t == nullptr) {
    error(configLine(*section.node), section.path + ": expected a table [near_cache], got " +
                                         describeConfigValue(*section.node));
    return;
  }
  for (auto&& [k, v] : *t) {
    const std::string name(k.str());
    const std::string path = section.path + "." + name;
    if (name == "max_bytes") {
      readConfigInt(v, path, 4096, kMaxBytes, error, &out->max_bytes);
    } else if (name == "heartbeat_ms") {
      readConfigInt(v, path, 10, 60000, error, &out->heartbeat_ms);
    } else if (name == "feed_timeout_ms") {
      readConfigInt(v, path, 20, 600000, error, &out->feed_timeout_ms);
    } else if (name == "admission") {
      const auto* s = v.as_string();
      if (s && s->get() == "first_read")
        out->admission = CacheAdmission::kFirstRead;
      else if (s && s->get() == "second_read")
        out->admission = CacheAdmission::kSecondRead;
      else
        error(configLine(v),
              path + ": expected \"first_read\" or \"second_read\", got " + describeConfigValue(v));
    } else {
      const uint32_t line = k.source().begin.line != 0 ? k.source().begin.line : configLine(v);
      error(line, path + ": unknown " + std::string(v.is_table() ? "section" : "key"));
    }
  }
  if (out->feed_timeout_ms <= out->heartbeat_ms) {
    error(configLine(*section.node), section.path +
                                         ".feed_timeout_ms: must be greater than "
                                         "heartbeat_ms (" +
                                         std::to_string(out->heartbeat_ms) + ")");
  }
}

}  // namespace kw

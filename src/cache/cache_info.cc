#include "cache/cache_info.h"

#include <cctype>
#include <cstdio>
#include <utility>
#include <vector>

#include "cache/cache_stats.h"
#include "common/config.h"
#include "policy/policy.h"
#include "proxy/resp_writer.h"

namespace kw {
namespace {

struct NsSums {
  uint64_t hits = 0, misses = 0, fills = 0, fills_dropped = 0, invalidations = 0, evictions = 0,
           expired = 0;
  int64_t entries = 0, bytes = 0;
  uint64_t bl_local = 0, bl_redis = 0, bl_fail_open = 0;
  int64_t bl_entries = 0, bl_bytes = 0;
};

struct Totals {
  NsSums all;
  uint64_t keys = 0, flushes = 0, losses = 0;
  int64_t covered = 0, replicas = 0, complete = 0, shards = 0;
};

NsSums sumSlot(const CacheStatsRegistry& stats, uint32_t slot) {
  NsSums s;
  stats.forEach([&](const CacheStatsShard& shard) {
    const NsCacheCounters& n = shard.ns[slot];
    s.hits += n.hits.get();
    s.misses += n.misses.get();
    s.fills += n.fills.get();
    s.fills_dropped += n.fills_dropped.get();
    s.invalidations += n.invalidations.get();
    s.evictions += n.evictions.get();
    s.expired += n.expired.get();
    s.entries += n.entries.get();
    s.bytes += n.bytes.get();
    s.bl_local += n.bl_local.get();
    s.bl_redis += n.bl_redis.get();
    s.bl_fail_open += n.bl_fail_open.get();
    s.bl_entries += n.bl_entries.get();
    s.bl_bytes += n.bl_bytes.get();
  });
  return s;
}

Totals totals(const CacheStatsRegistry& stats) {
  Totals t;
  for (uint32_t slot = 0; slot < kNamespaceSlots; ++slot) {
    const NsSums s = sumSlot(stats, slot);
    t.all.hits += s.hits;
    t.all.misses += s.misses;
    t.all.entries += s.entries;
    t.all.bytes += s.bytes;
    t.all.evictions += s.evictions;
    t.all.invalidations += s.invalidations;
  }
  stats.forEach([&](const CacheStatsShard& shard) {
    t.keys += shard.feed.keys.get();
    t.flushes += shard.feed.flushes.get();
    t.losses += shard.feed.losses.get();
    t.covered += shard.feed.covered.get();
    t.replicas += shard.replicas.get();
    t.complete += shard.replicas_complete.get();
    ++t.shards;
  });
  return t;
}

std::string fieldName(const std::string& name) {
  std::string f = name;
  for (char& c : f)
    if (!isalnum(static_cast<unsigned char>(c)))
      c = '_';
  return f;
}

std::string ratio(uint64_t hits, uint64_t misses) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.4f",
           hits + misses == 0 ? 0.0
                              : static_cast<double>(hits) / static_cast<double>(hits + misses));
  return buf;
}

int64_t perEntry(int64_t bytes, int64_t entries) {
  return entries > 0 ? bytes / entries : 0;
}

bool nearCached(const Config& config, uint32_t i) {
  return i < config.cache.namespaces.size() && config.cache.namespaces[i].near_cache;
}

}  // namespace

void appendCacheInfo(std::string* out, const CacheStatsRegistry& stats,
                     const CompiledPolicy& policy, const Config& config) {
  const Totals t = totals(stats);
  auto line = [out](const std::string& k, const std::string& v) {
    *out += k;
    *out += ':';
    *out += v;
    *out += "\r\n";
  };
  line("near_cache_max_bytes", std::to_string(config.cache.max_bytes));
  line("near_cache_bytes", std::to_string(t.all.bytes));
  line("near_cache_entries", std::to_string(t.all.entries));
  line("near_cache_bytes_per_entry", std::to_string(perEntry(t.all.bytes, t.all.entries)));
  line("near_cache_hits", std::to_string(t.all.hits));
  line("near_cache_misses", std::to_string(t.all.misses));
  line("near_cache_evictions", std::to_string(t.all.evictions));
  line("near_cache_invalidations", std::to_string(t.all.invalidations));
  line("invalidation_feeds_covered", std::to_string(t.covered));
  line("invalidation_keys", std::to_string(t.keys));
  line("invalidation_flushes", std::to_string(t.flushes));
  line("invalidation_feed_losses", std::to_string(t.losses));
  line("blacklist_replicas", std::to_string(t.replicas));
  line("blacklist_replicas_complete", std::to_string(t.complete));
  for (uint32_t i = 0; i < policy.namespaceCount(); ++i) {
    const NamespaceConfig& ns = policy.ns(i);
    const uint32_t slot = cacheStatsSlot(policy.counterId(i));
    if (slot == kOtherNamespace)
      continue;
    const NsSums s = sumSlot(stats, slot);
    if (ns.kind == NamespaceKind::kBlacklist) {
      line("bl_" + fieldName(ns.name),
           "name=" + ns.name + ",local=" + std::to_string(s.bl_local) + ",redis=" +
               std::to_string(s.bl_redis) + ",fail_open=" + std::to_string(s.bl_fail_open) +
               ",entries=" + std::to_string(s.bl_entries) + ",bytes=" + std::to_string(s.bl_bytes) +
               ",bytes_per_entry=" + std::to_string(perEntry(s.bl_bytes, s.bl_entries)));
    } else if (nearCached(config, i)) {
      line("nc_" + fieldName(ns.name),
           "name=" + ns.name + ",hits=" + std::to_string(s.hits) +
               ",misses=" + std::to_string(s.misses) + ",entries=" + std::to_string(s.entries) +
               ",bytes=" + std::to_string(s.bytes) + ",evictions=" + std::to_string(s.evictions) +
               ",invalidations=" + std::to_string(s.invalidations) + ",fills=" +
               std::to_string(s.fills) + ",fills_dropped=" + std::to_string(s.fills_dropped) +
               ",expired=" + std::to_string(s.expired));
    }
  }
}

std::string cacheStatsReply(const CacheStatsRegistry& stats, const CompiledPolicy& policy,
                            const Config& config, int proto) {
  const Totals t = totals(stats);
  std::string out;
  using KV = std::pair<const char*, std::string>;
  auto map = [&](const std::vector<KV>& scalars) {
    for (const auto& [k, v] : scalars) {
      resp::bulk(&out, k);
      const std::string_view key = k;
      if (key == "name" || key == "kind" || key == "hit_ratio" || key == "admission")
        resp::bulk(&out, v);
      else
        resp::integer(&out, std::stoll(v));
    }
  };
  std::vector<KV> top = {
      {"max_bytes", std::to_string(config.cache.max_bytes)},
      {"bytes", std::to_string(t.all.bytes)},
      {"entries", std::to_string(t.all.entries)},
      {"bytes_per_entry", std::to_string(perEntry(t.all.bytes, t.all.entries))},
      {"hits", std::to_string(t.all.hits)},
      {"misses", std::to_string(t.all.misses)},
      {"hit_ratio", ratio(t.all.hits, t.all.misses)},
      {"admission",
       config.cache.admission == CacheAdmission::kSecondRead ? "second_read" : "first_read"},
      {"feeds_covered", std::to_string(t.covered)},
      {"invalidation_keys", std::to_string(t.keys)},
      {"invalidation_flushes", std::to_string(t.flushes)},
      {"feed_losses", std::to_string(t.losses)},
      {"blacklist_replicas", std::to_string(t.replicas)},
      {"blacklist_replicas_complete", std::to_string(t.complete)},
  };
  std::vector<std::vector<KV>> nss;
  for (uint32_t i = 0; i < policy.namespaceCount(); ++i) {
    const NamespaceConfig& ns = policy.ns(i);
    const uint32_t slot = cacheStatsSlot(policy.counterId(i));
    const bool bl = ns.kind == NamespaceKind::kBlacklist;
    if (slot == kOtherNamespace || (!bl && !nearCached(config, i)))
      continue;
    const NsSums s = sumSlot(stats, slot);
    if (bl) {
      nss.push_back({{"name", ns.name},
                     {"kind", "blacklist"},
                     {"local", std::to_string(s.bl_local)},
                     {"redis", std::to_string(s.bl_redis)},
                     {"fail_open", std::to_string(s.bl_fail_open)},
                     {"entries", std::to_string(s.bl_entries)},
                     {"bytes", std::to_string(s.bl_bytes)},
                     {"bytes_per_entry", std::to_string(perEntry(s.bl_bytes, s.bl_entries))}});
    } else {
      nss.push_back({{"name", ns.name},
                     {"kind", "near_cache"},
                     {"hits", std::to_string(s.hits)},
                     {"misses", std::to_string(s.misses)},
                     {"hit_ratio", ratio(s.hits, s.misses)},
                     {"entries", std::to_string(s.entries)},
                     {"bytes", std::to_string(s.bytes)},
                     {"bytes_per_entry", std::to_string(perEntry(s.bytes, s.entries))},
                     {"evictions", std::to_string(s.evictions)},
                     {"invalidations", std::to_string(s.invalidations)},
                     {"fills", std::to_string(s.fills)},
                     {"fills_dropped", std::to_string(s.fills_dropped)},
                     {"expired", std::to_string(s.expired)}});
    }
  }
  resp::mapHeader(&out, proto, static_cast<int64_t>(top.size() + 1));
  map(top);
  resp::bulk(&out, "namespaces");
  resp::arrayHeader(&out, static_cast<int64_t>(nss.size()));
  for (const auto& kv : nss) {
    resp::mapHeader(&out, proto, static_cast<int64_t>(kv.size()));
    map(kv);
  }
  return out;
}

}  // namespace kw

#include "common/ratelimit_config_loader.h"

#include <atomic>

namespace kw {
namespace {

constexpr int64_t kMaxRate = 1'000'000'000;
constexpr int64_t kMaxPeriodS = 366 * 24 * 3600;
constexpr int64_t kMaxLocalKeys = 100'000'000;

// { rate = N, period_s = P, burst = B }; *out is left alone unless the whole table is valid.
void readSpec(const ConfigKey& key, const ConfigErrorSink& error, RateLimitSpec* out) {
  if (key.node == nullptr)
    return;
  const auto* t = key.node->as_table();
  if (t == nullptr) {
    error(configLine(*key.node),
          key.path + ": expected a table { rate = N, period_s = P, burst = B }, got " +
              describeConfigValue(*key.node));
    return;
  }
  RateLimitSpec spec;
  bool ok = true, has_rate = false, has_burst = false;
  for (auto&& [k, v] : *t) {
    const std::string name(k.str());
    const std::string path = key.path + "." + name;
    if (name == "rate") {
      has_rate = true;
      ok &= readConfigInt(v, path, 1, kMaxRate, error, &spec.rate);
    } else if (name == "period_s") {
      ok &= readConfigInt(v, path, 1, kMaxPeriodS, error, &spec.period_s);
    } else if (name == "burst") {
      has_burst = true;
      ok &= readConfigInt(v, path, 1, kMaxRate, error, &spec.burst);
    } else {
      std::string shown;
      for (char c : name)
        shown += (c < 0x20 || c == 0x7f) ? '?' : c;
      error(k.source().begin.line != 0 ? k.source().begin.line : configLine(v),
            key.path + "." + shown + ": unknown key (expected rate, period_s, burst)");
      ok = false;
    }
  }
  if (!has_rate) {
    error(configLine(*key.node), key.path + ".rate: required");
    ok = false;
  }
  if (!ok)
    return;
  if (!has_burst)
    spec.burst = spec.rate;
  *out = spec;
}

}  // namespace

void readNamespaceRateLimit(const ConfigKey& limit, const ConfigKey& fallback,
                            const ConfigErrorSink& error, RateLimitConfig* out) {
  RateLimitSpec spec;
  readSpec(limit, error, &spec);
  ThrottleFallback mode = ThrottleFallback::kLocal;
  if (fallback.node != nullptr) {
    const auto* s = fallback.node->as_string();
    const std::string v = s ? s->get() : "";
    if (s && v == "local") {
      mode = ThrottleFallback::kLocal;
    } else if (s && v == "allow") {
      mode = ThrottleFallback::kAllow;
    } else if (s && v == "deny") {
      mode = ThrottleFallback::kDeny;
    } else {
      error(configLine(*fallback.node), fallback.path +
                                            ": expected \"local\" or \"allow\" or \"deny\", got " +
                                            describeConfigValue(*fallback.node));
    }
  }
  out->namespace_limits.push_back(spec);
  out->namespace_fallback.push_back(mode);
}

void readUserRateLimit(const ConfigKey& limit, std::string_view user, const ConfigErrorSink& error,
                       RateLimitConfig* out) {
  RateLimitSpec spec;
  readSpec(limit, error, &spec);
  if (spec.enabled())
    out->user_limits.emplace_back(std::string(user), spec);
}

void readClientRateLimit(const ConfigKey& limit, const ConfigErrorSink& error,
                         RateLimitConfig* out) {
  readSpec(limit, error, &out->per_client);
}

void readRateLimitSection(const ConfigKey& section, const ConfigErrorSink& error,
                          RateLimitConfig* out) {
  if (section.node != nullptr) {
    const auto* t = section.node->as_table();
    if (t == nullptr) {
      error(configLine(*section.node), section.path + ": expected a table [rate_limit], got " +
                                           describeConfigValue(*section.node));
    } else {
      for (auto&& [k, v] : *t) {
        const std::string name(k.str());
        const std::string path = section.path + "." + name;
        if (name == "local_max_keys") {
          uint64_t n = 0;
          if (readConfigInt(v, path, 64, kMaxLocalKeys, error, &n))
            out->local_max_keys = static_cast<uint32_t>(n);
        } else if (name == "redis_script") {
          const auto* s = v.as_string();
          const std::string mode = s ? s->get() : "";
          if (s && mode == "auto") {
            out->redis_form = ThrottleRedisForm::kAuto;
          } else if (s && mode == "function") {
            out->redis_form = ThrottleRedisForm::kFunction;
          } else if (s && mode == "script") {
            out->redis_form = ThrottleRedisForm::kScript;
          } else {
            error(configLine(v), path + ": expected \"auto\" or \"function\" or \"script\", got " +
                                     describeConfigValue(v));
          }
        } else {
          std::string shown;
          for (char c : name)
            shown += (c < 0x20 || c == 0x7f) ? '?' : c;
          error(k.source().begin.line != 0 ? k.source().begin.line : configLine(v),
                section.path + "." + shown + ": unknown key");
        }
      }
    }
  }
  out->protective = out->per_client.enabled() || !out->user_limits.empty();
  for (const RateLimitSpec& s : out->namespace_limits)
    out->protective |= s.enabled();
  static std::atomic<uint64_t> next_id{1};
  out->id = next_id.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace kw

#include "ratelimit/protective_limits.h"

namespace kw {
namespace {

constexpr int64_t kNsPerS = 1'000'000'000;

BoundLimiter makeLimiter(const RateLimitSpec& spec, std::string_view kind, std::string_view name) {
  BoundLimiter b;
  b.rate = GcraRate::perPeriod(spec.rate, spec.period_s * kNsPerS, spec.burst);
  b.rate_n = spec.rate;
  b.period_s = spec.period_s;
  b.burst = spec.burst;
  b.kind = kind;
  b.name = name;
  return b;
}

std::string cellKey(std::string_view kind, std::string_view name) {
  std::string k(kind);
  k.push_back('\0');
  k.append(name);
  return k;
}

}  // namespace

std::string BoundLimiter::refusalText(int64_t retry_ns, std::string_view who) const {
  const int64_t ms = retry_ns <= 0 ? 1 : (retry_ns + 999'999) / 1'000'000;  // never "0 ms"
  std::string out = "RATELIMITED ";
  out.append(kind);
  out.append(" '");
  out.append(who.empty() ? std::string_view(name) : who);
  out.append("' over " + std::to_string(rate_n) + " per " + std::to_string(period_s) +
             "s; retry after " + std::to_string(ms) + " ms");
  return out;
}

std::shared_ptr<GcraCell> LimiterRegistry::cellFor(const std::string& key) {
  std::shared_ptr<GcraCell>& c = cells_[key];
  if (!c)
    c = std::make_shared<GcraCell>();
  return c;
}

std::shared_ptr<const ProtectiveLimits> LimiterRegistry::bind(const Config& config) {
  const RateLimitConfig& rl = config.rate_limit;
  std::lock_guard<std::mutex> lock(mu_);
  if (current_ && current_->config_id_ == rl.id)
    return current_;
  auto limits = std::make_shared<ProtectiveLimits>();
  limits->config_id_ = rl.id;
  std::unordered_map<std::string, std::shared_ptr<GcraCell>> kept;
  for (const auto& [name, spec] : rl.user_limits) {
    BoundLimiter b = makeLimiter(spec, "user", name);
    const std::string key = cellKey("user", name);
    b.cell = cellFor(key);
    kept[key] = b.cell;
    limits->users_.emplace(name, std::move(b));
  }
  const auto& nss = config.policy.namespaces;
  limits->namespaces_.resize(nss.size());
  for (size_t i = 0; i < nss.size() && i < rl.namespace_limits.size(); ++i) {
    if (!rl.namespace_limits[i].enabled())
      continue;
    BoundLimiter b = makeLimiter(rl.namespace_limits[i], "namespace", nss[i].name);
    const std::string key = cellKey("namespace", nss[i].name);
    b.cell = cellFor(key);
    kept[key] = b.cell;
    limits->namespaces_[i] = std::move(b);
    limits->any_namespace_ = true;
  }
  if (rl.per_client.enabled())
    limits->client_ = makeLimiter(rl.per_client, "client", "");
  // Limiters the new configuration dropped are forgotten (sessions still bound to the old
  // snapshot keep theirs alive until they rebind).
  cells_.swap(kept);
  current_ = limits;
  return current_;
}

std::shared_ptr<GcraCell> LimiterRegistry::clientCell(std::string_view host, int64_t now_ns,
                                                      size_t max_keys) {
  std::lock_guard<std::mutex> lock(clients_mu_);
  auto it = clients_.find(std::string(host));
  if (it != clients_.end())
    return it->second;
  // Amortized: a sweep costs the map's size and runs when the map has doubled since the last.
  if (clients_.size() >= max_keys && clients_.size() >= 2 * clients_swept_at_) {
    for (auto i = clients_.begin(); i != clients_.end();) {
      if (i->second.use_count() == 1 && i->second->tat() <= now_ns)
        i = clients_.erase(i);
      else
        ++i;
    }
    // Still too many: forget idle addresses even if they have not refilled (bounded memory
    // wins over an exact count for addresses nobody is connected from).
    for (auto i = clients_.begin(); i != clients_.end() && clients_.size() >= max_keys;) {
      if (i->second.use_count() == 1)
        i = clients_.erase(i);
      else
        ++i;
    }
    clients_swept_at_ = clients_.size() > 0 ? clients_.size() : 1;
  }
  auto cell = std::make_shared<GcraCell>();
  clients_.emplace(std::string(host), cell);
  return cell;
}

std::shared_ptr<GcraCell> LimiterRegistry::findClientCell(std::string_view host) {
  std::lock_guard<std::mutex> lock(clients_mu_);
  auto it = clients_.find(std::string(host));
  return it == clients_.end() ? nullptr : it->second;
}

void LimiterRegistry::forEachNamed(
    const std::function<void(std::string_view, std::string_view, const GcraCell&)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, cell] : cells_) {
    const size_t z = key.find('\0');
    fn(std::string_view(key).substr(0, z), std::string_view(key).substr(z + 1), *cell);
  }
}

}  // namespace kw

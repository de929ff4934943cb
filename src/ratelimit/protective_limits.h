// The proxy's protective limits bound to their state. A ProtectiveLimits is built once per
// loaded configuration (immutable, shared by the sessions that use it); the GcraCells it points
// to are kept by name in the LimiterRegistry, so a reload that keeps a user's or a namespace's
// limit keeps what that limiter has counted. Per-client-address cells are shared by every
// connection from that address and outlive them until they are full again.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "ratelimit/gcra_cell.h"

namespace kw {

struct BoundLimiter {
  GcraRate rate;                   // on the ns clock
  std::shared_ptr<GcraCell> cell;  // null for the per-client limit (one cell per address)
  std::string kind;                // "user", "namespace", "client"
  std::string name;                // the user's or namespace's name
  uint64_t rate_n = 0, period_s = 0, burst = 0;

  // The error reply (without '-') for a refusal `retry_ns` before a request would pass:
  // "RATELIMITED user 'alice' over 100 per 1s; retry after 12 ms". `who` replaces the name
  // (the client's address).
  std::string refusalText(int64_t retry_ns, std::string_view who = {}) const;
};

class ProtectiveLimits {
public:
  uint64_t configId() const { return config_id_; }
  // nullptr: no limit for that user / namespace / clients.
  const BoundLimiter* user(std::string_view name) const {
    auto it = users_.find(name);
    return it == users_.end() ? nullptr : &it->second;
  }
  const BoundLimiter* ns(uint32_t id) const {
    return id < namespaces_.size() && namespaces_[id].rate.emission > 0 ? &namespaces_[id]
                                                                        : nullptr;
  }
  bool anyNamespace() const { return any_namespace_; }
  const BoundLimiter* client() const { return client_.rate.emission > 0 ? &client_ : nullptr; }

private:
  friend class LimiterRegistry;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  uint64_t config_id_ = 0;
  std::unordered_map<std::string, BoundLimiter, Hash, std::equal_to<>> users_;
  std::vector<BoundLimiter> namespaces_;
  bool any_namespace_ = false;
  BoundLimiter client_;
};

class LimiterRegistry {
public:
  // The limits of `config`, bound to their cells; the same object for the same config id.
  std::shared_ptr<const ProtectiveLimits> bind(const Config& config);

  // The cell of one client address (created on first use). Addresses whose cells nobody uses
  // and that are full again are forgotten once more than `max_keys` are known.
  std::shared_ptr<GcraCell> clientCell(std::string_view host, int64_t now_ns, size_t max_keys);

  // Every named limiter of the current configuration: kind ("user", "namespace"), name, cell.
  void
  forEachNamed(const std::function<void(std::string_view, std::string_view, const GcraCell&)>& fn);
  // The cell of a client address, if one exists (KEYWARDEN RATELIMIT client:<host>).
  std::shared_ptr<GcraCell> findClientCell(std::string_view host);

private:
  std::shared_ptr<GcraCell> cellFor(const std::string& key);

  std::mutex mu_;
  std::shared_ptr<const ProtectiveLimits> current_;
  std::unordered_map<std::string, std::shared_ptr<GcraCell>> cells_;  // "user\0name" etc.
  std::mutex clients_mu_;
  std::unordered_map<std::string, std::shared_ptr<GcraCell>> clients_;
  size_t clients_swept_at_ = 0;
};

}  // namespace kw

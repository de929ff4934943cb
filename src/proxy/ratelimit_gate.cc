// Rate limiting on the request path; see ratelimit_gate.h for where each function is called.
#include "proxy/ratelimit_gate.h"

#include <time.h>

#include <charconv>

#include "common/ascii.h"
#include "policy/auth_throttle.h"
#include "policy/policy.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/upstream_conn.h"
#include "proxy/worker.h"
#include "ratelimit/cell_throttle.h"
#include "ratelimit/local_throttle.h"
#include "ratelimit/throttle_lua.h"

namespace kw {
namespace {

int64_t unixNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void mapEntry(std::string* out, std::string_view k, std::string_view v) {
  resp::bulk(out, k);
  resp::bulk(out, v);
}
void mapEntry(std::string* out, std::string_view k, int64_t v) {
  resp::bulk(out, k);
  resp::integer(out, v);
}

}  // namespace

// ---- protective limits: the gate after gateAccess ----

bool Session::gateRateLimit(const DecodedRequest& req, const CommandInfo* cmd) {
  const RateLimitConfig& rl = worker_->config().rate_limit;
  if (!rl.protective)
    return true;  // the whole cost when no limit is configured
  // Connection and transaction control are never refused: EXEC must always end a MULTI.
  if (cmd && (cmd->flags & (kConnection | kTransaction)))
    return true;
  if (!rate_limit_)
    rate_limit_ = std::make_unique<RateLimitSessionState>();  // only where limits are configured
  RateLimitSessionState& s = *rate_limit_;
  RateLimitRuntime& rt = worker_->shared().ratelimit;
  if (!s.limits || s.limits->configId() != rl.id) {
    s.limits = rt.limiters().bind(worker_->config());
    s.user = nullptr;
    s.user_limiter = nullptr;
    s.client_cell.reset();
  }
  const ProtectiveLimits& limits = *s.limits;
  if (s.user != user_) {  // AUTH, RESET, or a new snapshot (user_ == nullptr: no limit)
    s.user = user_;
    s.user_limiter = user_ ? limits.user(user_->name) : nullptr;
  }
  const auto now = static_cast<int64_t>(worker_->nowNs());

  // Every limit the command passes takes one request from it; a later refusal gives them back.
  const BoundLimiter* taken[8];
  GcraCell* taken_cells[8];
  size_t n_taken = 0;
  auto refuse = [&](const BoundLimiter& b, GcraCell& cell, int64_t retry_ns,
                    std::string_view client_host) {
    for (size_t i = 0; i < n_taken; ++i)
      taken_cells[i]->refund(taken[i]->rate);
    cell.countRefusal();
    current_outcome_ = Outcome::kRefusedRateLimit;
    if (!client_host.empty())
      rt.stats().refused_client.fetch_add(1, std::memory_order_relaxed);
    replyError(b.refusalText(retry_ns, client_host));
  };

  if (const BoundLimiter* c = limits.client()) {
    if (!s.client_cell)
      s.client_cell = rt.limiters().clientCell(hostOf(addr_), now, rl.local_max_keys);
    const GcraDecision d = gcraAdmit(*s.client_cell, c->rate, now);
    if (!d.allowed) {
      refuse(*c, *s.client_cell, d.retry_after, hostOf(addr_));
      return false;
    }
    taken[n_taken] = c;
    taken_cells[n_taken++] = s.client_cell.get();
  }
  if (const BoundLimiter* u = s.user_limiter) {
    const GcraDecision d = gcraAdmit(*u->cell, u->rate, now);
    if (!d.allowed) {
      refuse(*u, *u->cell, d.retry_after, {});
      return false;
    }
    taken[n_taken] = u;
    taken_cells[n_taken++] = u->cell.get();
  }
  if (limits.anyNamespace() && access_checked_) {
    // Users with full access had only their first key resolved: resolve the others too.
    PolicyScratch& keys = scratch_->access;
    for (size_t i = keys.ns_ids.size(); i < keys.positions.size(); ++i) {
      const auto pos = static_cast<size_t>(keys.positions[i]);
      keys.ns_ids.push_back(pos < req.args.size()
                                ? worker_->policy().namespaces().resolve(req.args[pos]).ns
                                : Resolution::kNone);
    }
    const size_t first_ns = n_taken;
    for (uint32_t ns : keys.ns_ids) {
      const BoundLimiter* b = limits.ns(ns);
      if (!b)
        continue;
      bool seen = false;  // once per namespace per command
      for (size_t i = first_ns; i < n_taken; ++i)
        seen |= taken[i] == b;
      if (seen)
        continue;
      const GcraDecision d = gcraAdmit(*b->cell, b->rate, now);
      if (!d.allowed) {
        current_ns_ = ns;
        refuse(*b, *b->cell, d.retry_after, {});
        return false;
      }
      if (n_taken == std::size(taken)) {
        b->cell->refund(b->rate);  // more limited namespaces than slots: counted, not held
        continue;
      }
      taken[n_taken] = b;
      taken_cells[n_taken++] = b->cell.get();
    }
  }
  return true;
}

// ---- KEYWARDEN RATELIMIT <user:NAME | namespace:NAME | client:HOST | key> ----

void Session::cmdKeywardenRateLimit(const DecodedRequest& req) {
  worker_->stats().commands_local.add();
  if (req.args.size() != 3)
    return replyError(
        "ERR syntax error: KEYWARDEN RATELIMIT <user:NAME | namespace:NAME | client:HOST | key>");
  RateLimitRuntime& rt = worker_->shared().ratelimit;
  const std::string_view target = req.args[2];
  const auto now = static_cast<int64_t>(worker_->nowNs());
  std::shared_ptr<const ProtectiveLimits> limits = rt.limiters().bind(worker_->config());
  const BoundLimiter* limiter = nullptr;
  std::shared_ptr<GcraCell> client_cell;
  std::string_view kind, name;
  const size_t colon = target.find(':');
  if (colon != std::string_view::npos) {
    kind = target.substr(0, colon);
    name = target.substr(colon + 1);
  }
  if (kind == "user") {
    limiter = limits->user(name);
  } else if (kind == "namespace") {
    const CompiledPolicy& policy = worker_->policy();
    for (uint32_t i = 0; i < policy.namespaceCount(); ++i)
      if (policy.ns(i).name == name)
        limiter = limits->ns(i);
  } else if (kind == "client") {
    limiter = limits->client();
    client_cell = rt.limiters().findClientCell(name);
  } else {
    kind = {};
  }
  std::string out;
  if (!kind.empty()) {
    if (!limiter)
      return replyError("ERR no rate limit for " + std::string(kind) + " '" +
                        std::string(name.substr(0, 128)) + "'");
    const GcraCell* cell = client_cell ? client_cell.get() : limiter->cell.get();
    const int64_t tat = cell ? cell->tat() : 0;
    const int64_t available = gcraAvailable(limiter->rate, tat, now);
    const GcraDecision next = gcraDecide(limiter->rate, tat, now);
    resp::mapHeader(&out, proto_, 8);
    mapEntry(&out, "kind", kind);
    mapEntry(&out, "name", name);
    mapEntry(&out, "rate", static_cast<int64_t>(limiter->rate_n));
    mapEntry(&out, "period_s", static_cast<int64_t>(limiter->period_s));
    mapEntry(&out, "burst", static_cast<int64_t>(limiter->burst));
    mapEntry(&out, "available", available > 0 ? available : 0);
    mapEntry(&out, "retry_after_ms", next.allowed ? 0 : (next.retry_after + 999'999) / 1'000'000);
    mapEntry(&out, "refused", static_cast<int64_t>(cell ? cell->refused() : 0));
    return replyLocal(out);
  }
  // A CL.THROTTLE key: its state in this process's fallback table (the shared state is in
  // Redis: CL.THROTTLE <key> <max_burst> <count> <period> 0 reads it without consuming).
  ExpiringTable::Slot slot;
  const int64_t unix_now = unixNowNs();
  const bool present = rt.throttleTable().peek(target, unix_now, &slot);
  resp::mapHeader(&out, proto_, 5);
  mapEntry(&out, "key", target);
  mapEntry(&out, "fallback_active", rt.inOutage() ? 1 : 0);
  resp::bulk(&out, "local_tat_ns");
  if (present)
    resp::bulk(&out, std::to_string(static_cast<uint64_t>(slot.value)));
  else
    resp::null(&out, proto_);
  mapEntry(&out, "local_ttl_ms", present ? (slot.expires_at - unix_now) / 1'000'000 : -2);
  mapEntry(&out, "local_keys", static_cast<int64_t>(rt.throttleTable().size()));
  replyLocal(out);
}

}  // namespace kw

#include "ratelimit/protective_gate.h"

#include "common/ascii.h"
#include "policy/auth_throttle.h"
#include "policy/policy.h"
#include "proxy/command_table.h"
#include "proxy/worker.h"
#include "ratelimit/ratelimit_runtime.h"

namespace kw {

RequestStage::Verdict ProtectiveGate::onRequest(StageRequest& req) {
  const RateLimitConfig& rl = worker_->config().rate_limit;
  if (!rl.protective)
    return Verdict::kContinue;  // the whole cost when no limit is configured
  // Connection and transaction control are never refused: EXEC must always end a MULTI.
  const CommandInfo* cmd = req.command();
  if (cmd && (cmd->flags & (kConnection | kTransaction)))
    return Verdict::kContinue;
  std::unique_ptr<StageAttachment>& attached = req.attachment();
  if (!attached)
    attached = std::make_unique<RateLimitSessionState>();  // only where limits are configured
  auto& s = static_cast<RateLimitSessionState&>(*attached);
  RateLimitRuntime& rt = *rt_;
  if (!s.limits || s.limits->configId() != rl.id) {
    s.limits = rt.limiters().bind(worker_->config());
    s.user = nullptr;
    s.user_limiter = nullptr;
    s.client_cell.reset();
  }
  const ProtectiveLimits& limits = *s.limits;
  const CompiledUser* user = req.user();
  if (s.user != user) {  // AUTH, RESET, or a new snapshot (nullptr: no limit)
    s.user = user;
    s.user_limiter = user ? limits.user(user->name) : nullptr;
  }
  const auto now = static_cast<int64_t>(worker_->nowNs());

  // Every limit the command passes takes one request from it; a later refusal gives them back.
  const BoundLimiter* taken[8];
  GcraCell* taken_cells[8];
  size_t n_taken = 0;
  auto refuse = [&](const BoundLimiter& b, GcraCell& cell, int64_t retry_ns,
                    std::string_view client_host, uint32_t ns) {
    for (size_t i = 0; i < n_taken; ++i)
      taken_cells[i]->refund(taken[i]->rate);
    cell.countRefusal();
    if (!client_host.empty())
      rt.stats().refused_client.fetch_add(1, std::memory_order_relaxed);
    req.refuseRateLimited(b.refusalText(retry_ns, client_host), ns);
    return Verdict::kDone;
  };

  if (const BoundLimiter* c = limits.client()) {
    const std::string_view host = hostOf(req.clientAddr());
    if (!s.client_cell)
      s.client_cell = rt.limiters().clientCell(host, now, rl.local_max_keys);
    const GcraDecision d = gcraAdmit(*s.client_cell, c->rate, now);
    if (!d.allowed)
      return refuse(*c, *s.client_cell, d.retry_after, host, Resolution::kNone);
    taken[n_taken] = c;
    taken_cells[n_taken++] = s.client_cell.get();
  }
  if (const BoundLimiter* u = s.user_limiter) {
    const GcraDecision d = gcraAdmit(*u->cell, u->rate, now);
    if (!d.allowed)
      return refuse(*u, *u->cell, d.retry_after, {}, Resolution::kNone);
    taken[n_taken] = u;
    taken_cells[n_taken++] = u->cell.get();
  }
  if (limits.anyNamespace()) {
    const size_t first_ns = n_taken;
    for (uint32_t ns : req.keyNamespaces()) {
      const BoundLimiter* b = limits.ns(ns);
      if (!b)
        continue;
      bool seen = false;  // once per namespace per command
      for (size_t i = first_ns; i < n_taken; ++i)
        seen |= taken[i] == b;
      if (seen)
        continue;
      const GcraDecision d = gcraAdmit(*b->cell, b->rate, now);
      if (!d.allowed)
        return refuse(*b, *b->cell, d.retry_after, {}, ns);
      if (n_taken == std::size(taken)) {
        b->cell->refund(b->rate);  // more limited namespaces than slots: counted, not held
        continue;
      }
      taken[n_taken] = b;
      taken_cells[n_taken++] = b->cell.get();
    }
  }
  return Verdict::kContinue;
}

}  // namespace kw

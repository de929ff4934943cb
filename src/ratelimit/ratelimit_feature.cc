#include "ratelimit/ratelimit_feature.h"

#include <time.h>

#include <memory>

#include "policy/policy.h"
#include "proxy/resp_writer.h"
#include "proxy/worker.h"
#include "ratelimit/protective_gate.h"
#include "ratelimit/ratelimit_metrics.h"
#include "ratelimit/throttle_stage.h"

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

void RateLimitFeature::startWorker(Worker& worker) {
  worker.addGate(std::make_unique<ProtectiveGate>(&worker, &runtime_));
  worker.addStage(std::make_unique<ThrottleStage>(&worker, &runtime_));
}

bool RateLimitFeature::keywarden(std::string_view sub, AdminRequest& req) {
  if (sub != "ratelimit")
    return false;
  keywardenRateLimit(req);
  return true;
}

void RateLimitFeature::keywardenHelp(std::vector<std::string>* lines) const {
  lines->emplace_back("RATELIMIT <user:NAME | namespace:NAME | client:HOST | key>");
  lines->emplace_back(
      "    A rate limiter's state, without consuming (a key: its CL.THROTTLE fallback state).");
}

void RateLimitFeature::appendMetrics(const std::vector<std::string>& ns_labels,
                                     std::vector<prometheus::MetricFamily>* out) const {
  appendRateLimitFamilies(runtime_, ns_labels, out);
}

// ---- KEYWARDEN RATELIMIT <user:NAME | namespace:NAME | client:HOST | key> ----

void RateLimitFeature::keywardenRateLimit(AdminRequest& req) {
  const std::span<const std::string_view> args = req.args();
  Worker& w = req.worker();
  const int proto = req.proto();
  if (args.size() != 3)
    return req.replyError(
        "ERR syntax error: KEYWARDEN RATELIMIT <user:NAME | namespace:NAME | client:HOST | key>");
  RateLimitRuntime& rt = runtime_;
  const std::string_view target = args[2];
  const auto now = static_cast<int64_t>(w.nowNs());
  std::shared_ptr<const ProtectiveLimits> limits = rt.limiters().bind(w.config());
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
    const CompiledPolicy& policy = w.policy();
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
      return req.replyError("ERR no rate limit for " + std::string(kind) + " '" +
                            std::string(name.substr(0, 128)) + "'");
    const GcraCell* cell = client_cell ? client_cell.get() : limiter->cell.get();
    const int64_t tat = cell ? cell->tat() : 0;
    const int64_t available = gcraAvailable(limiter->rate, tat, now);
    const GcraDecision next = gcraDecide(limiter->rate, tat, now);
    resp::mapHeader(&out, proto, 8);
    mapEntry(&out, "kind", kind);
    mapEntry(&out, "name", name);
    mapEntry(&out, "rate", static_cast<int64_t>(limiter->rate_n));
    mapEntry(&out, "period_s", static_cast<int64_t>(limiter->period_s));
    mapEntry(&out, "burst", static_cast<int64_t>(limiter->burst));
    mapEntry(&out, "available", available > 0 ? available : 0);
    mapEntry(&out, "retry_after_ms", next.allowed ? 0 : (next.retry_after + 999'999) / 1'000'000);
    mapEntry(&out, "refused", static_cast<int64_t>(cell ? cell->refused() : 0));
    return req.reply(out);
  }
  // A CL.THROTTLE key: its state in this process's fallback table (the shared state is in
  // Redis: CL.THROTTLE <key> <max_burst> <count> <period> 0 reads it without consuming).
  ExpiringTable::Slot slot;
  const int64_t unix_now = unixNowNs();
  const bool present = rt.throttleTable().peek(target, unix_now, &slot);
  resp::mapHeader(&out, proto, 5);
  mapEntry(&out, "key", target);
  mapEntry(&out, "fallback_active", rt.inOutage() ? 1 : 0);
  resp::bulk(&out, "local_tat_ns");
  if (present)
    resp::bulk(&out, std::to_string(static_cast<uint64_t>(slot.value)));
  else
    resp::null(&out, proto);
  mapEntry(&out, "local_ttl_ms", present ? (slot.expires_at - unix_now) / 1'000'000 : -2);
  mapEntry(&out, "local_keys", static_cast<int64_t>(rt.throttleTable().size()));
  req.reply(out);
}

}  // namespace kw

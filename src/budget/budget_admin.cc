// KEYWARDEN BUDGETS and KEYWARDEN DOCTOR, and the budget fields of INFO and NAMESPACES.
#include "budget/budget_admin.h"

#include "budget/budget_feature.h"

#include <memory>

#include "budget/doctor.h"
#include "budget/doctor_nodes.h"
#include "budget/resp_reply.h"
#include "common/ascii.h"
#include "policy/policy.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/upstream_client.h"
#include "proxy/worker.h"

namespace kw {
namespace {

std::string fieldName(std::string_view name) {
  std::string field(name);
  for (char& ch : field)
    if (!isalnum(static_cast<unsigned char>(ch)))
      ch = '_';
  return field;
}

// keywarden's own requests (UpstreamClient: the session's worker's shared links) as BudgetRedis,
// for the doctor; only used while runDoctor() sends.
class ClientRedis final : public BudgetRedis {
public:
  explicit ClientRedis(UpstreamClient* client) : client_(client) {}
  void send(std::span<const std::string_view> args, Done done) override {
    std::string raw;
    resp::arrayHeader(&raw, static_cast<int64_t>(args.size()));
    for (std::string_view a : args)
      resp::bulk(&raw, a);
    client_->sendRaw(raw, std::move(done));
  }

private:
  UpstreamClient* client_;
};

void namespaceMap(std::string* out, int proto, const BudgetNamespaceStatus& n) {
  resp::mapHeader(out, proto, 10);
  resp::bulk(out, "name");
  resp::bulk(out, n.name);
  resp::bulk(out, "budget");
  resp::integer(out, static_cast<int64_t>(n.budget));
  resp::bulk(out, "bytes");
  resp::integer(out, n.bytes);
  resp::bulk(out, "keys");
  resp::integer(out, n.keys);
  resp::bulk(out, "evictions");
  resp::integer(out, static_cast<int64_t>(n.evictions));
  resp::bulk(out, "evicted_bytes");
  resp::integer(out, static_cast<int64_t>(n.evicted_bytes));
  resp::bulk(out, "last_enforcement_ms");
  resp::integer(out, n.last_enforcement_unix_ms);
  resp::bulk(out, "complete");
  resp::integer(out, n.complete ? 1 : 0);
  resp::bulk(out, "pending");
  resp::integer(out, static_cast<int64_t>(n.pending));
  resp::bulk(out, "source");
  resp::bulk(out, n.source);
}

}  // namespace

void appendBudgetInfo(std::string* out, const BudgetSnapshot& snap) {
  *out += "budget_role:" + snap.role + "\r\n";
  *out += "budget_lease_holder:" + snap.holder + "\r\n";
  *out += "budget_lease_acquisitions:" + std::to_string(snap.acquisitions) + "\r\n";
  *out += "budget_lease_losses:" + std::to_string(snap.losses) + "\r\n";
  *out += "budget_index_bytes:" + std::to_string(snap.index_memory_bytes) + "\r\n";
  *out += "budget_tracked_keys:" + std::to_string(snap.tracked_keys) + "\r\n";
  for (const BudgetNamespaceStatus& n : snap.namespaces) {
    *out += "budget_ns_" + fieldName(n.name) + ":name=" + n.name +
            ",budget=" + std::to_string(n.budget) + ",bytes=" + std::to_string(n.bytes) +
            ",keys=" + std::to_string(n.keys) + ",evictions=" + std::to_string(n.evictions) +
            ",evicted_bytes=" + std::to_string(n.evicted_bytes) +
            ",last_enforcement_ms=" + std::to_string(n.last_enforcement_unix_ms) +
            ",complete=" + (n.complete ? "1" : "0") + ",source=" + n.source + "\r\n";
  }
}

int64_t budgetFieldCount(const Config& config, uint32_t ns) {
  return config.budgets.budgetOf(ns) != 0 ? 5 : 1;
}

void appendBudgetFields(std::string* out, const Config& config, uint32_t ns, std::string_view name,
                        const BudgetSnapshot& snap) {
  const uint64_t budget = config.budgets.budgetOf(ns);
  resp::bulk(out, "memory_budget_bytes");
  resp::integer(out, static_cast<int64_t>(budget));
  if (budget == 0)
    return;
  const BudgetNamespaceStatus* n = snap.find(name);
  resp::bulk(out, "memory_bytes");
  resp::integer(out, n ? n->bytes : -1);
  resp::bulk(out, "memory_keys");
  resp::integer(out, n ? n->keys : -1);
  resp::bulk(out, "budget_evictions");
  resp::integer(out, n ? static_cast<int64_t>(n->evictions) : 0);
  resp::bulk(out, "budget_last_enforcement_ms");
  resp::integer(out, n ? n->last_enforcement_unix_ms : 0);
}

std::string budgetsReply(const BudgetSnapshot& snap, int proto, std::string_view holder,
                         int64_t ttl_ms) {
  std::string out;
  resp::mapHeader(&out, proto, 15);
  resp::bulk(&out, "role");
  resp::bulk(&out, snap.role);
  resp::bulk(&out, "instance");
  resp::bulk(&out, snap.instance);
  resp::bulk(&out, "holder");
  resp::bulk(&out, holder);
  resp::bulk(&out, "holder_is_me");
  resp::integer(&out, !holder.empty() && holder == snap.instance ? 1 : 0);
  resp::bulk(&out, "lease_key");
  resp::bulk(&out, snap.lease_key);
  resp::bulk(&out, "lease_ms");
  resp::integer(&out, snap.lease_ms);
  resp::bulk(&out, "lease_ttl_ms");
  resp::integer(&out, ttl_ms);
  resp::bulk(&out, "acquisitions");
  resp::integer(&out, static_cast<int64_t>(snap.acquisitions));
  resp::bulk(&out, "losses");
  resp::integer(&out, static_cast<int64_t>(snap.losses));
  resp::bulk(&out, "feed");
  resp::bulk(&out, snap.feed_covered ? "covered" : "not covered");
  resp::bulk(&out, "access_clock");
  resp::bulk(&out, snap.access_clock);
  resp::bulk(&out, "index_memory_bytes");
  resp::integer(&out, static_cast<int64_t>(snap.index_memory_bytes));
  resp::bulk(&out, "tracked_keys");
  resp::integer(&out, static_cast<int64_t>(snap.tracked_keys));
  resp::bulk(&out, "last_error");
  resp::bulk(&out, snap.last_error);
  resp::bulk(&out, "namespaces");
  resp::arrayHeader(&out, static_cast<int64_t>(snap.namespaces.size()));
  for (const BudgetNamespaceStatus& n : snap.namespaces)
    namespaceMap(&out, proto, n);
  return out;
}

void BudgetFeature::keywardenBudgets(std::string_view sub, AdminRequest& req) {
  if (req.args().size() != 2)
    return req.replyError("ERR syntax error: KEYWARDEN " + asciiLower(sub) + " takes no arguments");
  ReplySlot* slot = req.hold();
  Worker* w = &req.worker();
  const int proto = req.proto();
  if (sub == "doctor") {
    const Config& c = w->config();
    const CompiledPolicy& policy = w->policy();
    DoctorFacts facts;
    facts.upstream_host = c.upstream.address.host;
    for (uint32_t i = 0; i < policy.namespaceCount(); ++i)
      if (c.budgets.budgetOf(i) != 0)
        facts.budgets.emplace_back(policy.ns(i).name, c.budgets.budgetOf(i));
    ClientRedis redis(&w->upstreamClient());
    runDoctorOnMasters(w, &redis, std::move(facts),
                       [w, slot, proto](std::vector<std::string> findings) {
                         std::string out;
                         if (findings.empty())
                           findings.emplace_back("no known problem found");
                         resp::arrayHeader(&out, static_cast<int64_t>(findings.size()));
                         for (const std::string& f : findings)
                           resp::bulk(&out, f);
                         Session::deliver(w, slot, out);
                       });
    return;
  }
  // BUDGETS: the lease as Redis has it now, with this keywarden's view.
  struct Lease {
    std::string holder;
    int64_t ttl = -2;
  };
  auto lease = std::make_shared<Lease>();
  const std::string key = w->config().budgets.lease_key;
  UpstreamClient& client = w->upstreamClient();
  client.send({"GET", key}, [lease](std::string_view reply) {
    RespReply r;
    if (r.parse(reply) && r.root().type == RespNode::Type::kBulk)
      lease->holder.assign(r.root().text);
  });
  const BudgetStatus* status = &status_;
  client.send({"PTTL", key}, [w, slot, proto, lease, status](std::string_view reply) {
    RespReply r;
    if (r.parse(reply))
      respInteger(r.root(), &lease->ttl);
    std::shared_ptr<const BudgetSnapshot> snap = status->get();
    Session::deliver(w, slot, budgetsReply(*snap, proto, lease->holder, lease->ttl));
  });
}

}  // namespace kw

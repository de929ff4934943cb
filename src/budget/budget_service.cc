#include "budget/budget_service.h"

#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <random>

#include "budget/budget_enforcer.h"
#include "budget/budget_link.h"
#include "budget/budget_status.h"
#include "budget/doctor.h"
#include "budget/doctor_nodes.h"
#include "common/log.h"
#include "policy/policy.h"
#include "proxy/shared_state.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"
#include "tracking/feed_set.h"

namespace kw {
namespace {

constexpr uint64_t kTickMs = 20;
constexpr int64_t kPublishEveryMs = 100;
constexpr int64_t kDoctorRetryMs = 2000;

// "<random hex> <listen address> pid <pid> host <hostname>": unique per process, and says to an
// operator reading the lease key which keywarden holds it.
std::string instanceName(const Config& config) {
  std::random_device rd;
  const uint64_t r = (uint64_t{rd()} << 32) ^ rd();
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  char buf[512];
  snprintf(buf, sizeof buf, "%016llx %s:%u pid %d host %s", static_cast<unsigned long long>(r),
           config.server.listen.host.c_str(), config.server.listen.port, static_cast<int>(getpid()),
           host);
  return buf;
}

class BudgetService final : public WorkerService {
public:
  BudgetService(Worker& w, BudgetStatus* status)
      : worker_(w), status_(status), link_(&w),
        feed_(
            &w.upstreams().main(),
            [&w]() -> const std::vector<NodeId>& { return w.topology().masters(); },
            [&w] { return static_cast<int64_t>(w.nowMs()); }, feedOptions(), nullptr),
        enforcer_(env()) {
    instance_ = instanceName(w.config());
    refresh();
    timer_ = new uv_timer_t;
    uv_timer_init(w.loop(), timer_);
    timer_->data = this;
    uv_timer_start(
        timer_, [](uv_timer_t* t) { static_cast<BudgetService*>(t->data)->tick(); }, kTickMs,
        kTickMs);
  }
  ~BudgetService() override {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    feed_.unsubscribe(&enforcer_);
  }

private:
  static InvalidationFeed::Options feedOptions() {
    InvalidationFeed::Options o;
    o.client_name = "keywarden-budgets-feed";
    return o;
  }

  BudgetEnforcer::Env env() {
    BudgetEnforcer::Env e;
    e.redis = &link_;
    e.clock = [this] { return static_cast<int64_t>(worker_.nowMs()); };
    e.unix_ms = [] {
      timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
    };
    e.track = [this](std::vector<std::string> prefixes) {
      if (prefixes.empty())
        feed_.unsubscribe(&enforcer_);
      else
        feed_.subscribe(&enforcer_, std::move(prefixes));
    };
    e.locate = [this](std::string_view key) {
      const Resolution r = policy_->namespaces().resolve(key);
      return r.ns < budget_of_ns_.size() ? budget_of_ns_[r.ns] : -1;
    };
    e.seed = std::random_device{}();
    return e;
  }

  // Follows the worker's config snapshot: the budgeted namespaces and the [budgets] settings.
  void refresh() {
    std::shared_ptr<const Config> config;
    std::shared_ptr<const CompiledPolicy> policy;
    std::shared_ptr<const CommandTable> commands;
    worker_.shared().snapshot(&config, &policy, &commands);
    if (config == config_ && policy == policy_)
      return;
    config_ = std::move(config);
    policy_ = std::move(policy);
    const BudgetConfig& b = config_->budgets;
    std::vector<BudgetedNamespace> spaces;
    budget_of_ns_.assign(policy_->namespaceCount(), -1);
    for (uint32_t i = 0; i < policy_->namespaceCount(); ++i) {
      const uint64_t budget = b.budgetOf(i);
      if (budget == 0)
        continue;
      budget_of_ns_[i] = static_cast<int>(spaces.size());
      spaces.push_back({policy_->ns(i).name,
                        std::string(policy_->namespaces().at(i).pattern.literalPrefix()), budget});
    }
    EnforcerOptions o;
    o.enabled = b.enabled;
    o.lease_key = b.lease_key;
    o.instance = instance_;
    o.lease_ms = b.lease_ms;
    o.evict_to_percent = b.evict_to_percent;
    o.samples_per_eviction = b.samples_per_eviction;
    o.remeasure_delay_ms = b.remeasure_delay_ms;
    o.batch_keys = b.batch_keys;
    enforcer_.configure(std::move(spaces), std::move(o));
  }

  void tick() {
    refresh();
    link_.tick();
    feed_.tick();
    enforcer_.tick();
    const int64_t now = static_cast<int64_t>(worker_.nowMs());
    if (now >= next_publish_ms_) {
      next_publish_ms_ = now + kPublishEveryMs;
      auto snap = std::make_shared<BudgetSnapshot>(enforcer_.snapshot());
      snap->feed_covered = snap->feed_covered && feed_.covered();
      status_->publish(std::move(snap));
    }
    if (!doctor_done_ && !doctor_inflight_ && now >= doctor_retry_ms_ &&
        config_->budgets.doctor_at_startup)
      startupDoctor();
  }

  void startupDoctor() {
    doctor_inflight_ = true;
    DoctorFacts facts;
    facts.upstream_host = config_->upstream.address.host;
    for (uint32_t i = 0; i < policy_->namespaceCount(); ++i)
      if (config_->budgets.budgetOf(i) != 0)
        facts.budgets.emplace_back(policy_->ns(i).name, config_->budgets.budgetOf(i));
    runDoctorOnMasters(
        &worker_, &link_, std::move(facts), [this](std::vector<std::string> findings) {
          doctor_inflight_ = false;
          for (const std::string& f : findings) {
            if (f.find("UPSTREAMDOWN") != std::string::npos) {
              doctor_retry_ms_ = static_cast<int64_t>(worker_.nowMs()) + kDoctorRetryMs;
              return;  // not reachable yet: checked once it is
            }
          }
          doctor_done_ = true;
          for (const std::string& f : findings)
            KW_LOG_WARN("doctor: %s", f.c_str());
          if (findings.empty())
            KW_LOG_INFO("doctor: no known problem with the upstream's configuration");
        });
  }

  Worker& worker_;
  BudgetStatus* status_;
  BudgetLink link_;
  FeedSet feed_;
  BudgetEnforcer enforcer_;  // after link_ and feed_: destroyed before them
  std::shared_ptr<const Config> config_;
  std::shared_ptr<const CompiledPolicy> policy_;
  std::vector<int> budget_of_ns_;  // policy namespace id -> budget index, -1
  std::string instance_;
  uv_timer_t* timer_ = nullptr;
  int64_t next_publish_ms_ = 0;
  bool doctor_done_ = false;
  bool doctor_inflight_ = false;
  int64_t doctor_retry_ms_ = 0;
};

}  // namespace

void installBudgetService(Worker& worker, BudgetStatus* status) {
  worker.addService(std::make_unique<BudgetService>(worker, status));
}

}  // namespace kw

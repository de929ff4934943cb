#include "cache/cache_worker.h"

#include <uv.h>

#include <algorithm>

#include "proxy/shared_state.h"
#include "proxy/upstream_client.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace kw {
namespace {

constexpr uint64_t kTickMs = 25;

class WorkerRequests final : public CacheRequests {
public:
  explicit WorkerRequests(Worker* w) : worker_(w) {}
  void send(std::initializer_list<std::string_view> args, Done done) override {
    worker_->upstreamClient().send(args, std::move(done));
  }

private:
  Worker* worker_;
};

// The stage in the worker's chain: owns the CacheStage, its request adapter and its timer.
class WorkerCache final : public RequestStage {
public:
  WorkerCache(Worker& w, CacheStatsRegistry* stats) : requests_(&w) {
    CacheStage::Env env;
    env.pools = &w.upstreams().main();
    env.masters = [&w]() -> const std::vector<NodeId>& { return w.topology().masters(); };
    env.requests = &requests_;
    env.clock = [&w] { return static_cast<int64_t>(w.nowMs()); };
    env.stats = stats->shard(w.index());
    env.workers = static_cast<unsigned>(std::max<size_t>(1, w.shared().workers.size()));
    env.feed_name = "keywarden-w" + std::to_string(w.index()) + "-feed";
    env.current_policy = [&w] { return &w.policy(); };
    env.snapshot = [&w](std::shared_ptr<const Config>* c,
                        std::shared_ptr<const CompiledPolicy>* p) {
      std::shared_ptr<const CommandTable> commands;
      w.shared().snapshot(c, p, &commands);
    };
    env.miss_filler = [&w] { return w.missFiller(); };
    stage_ = std::make_unique<CacheStage>(std::move(env));
    stage_->refresh();
    timer_ = new uv_timer_t;
    uv_timer_init(w.loop(), timer_);
    timer_->data = stage_.get();
    uv_timer_start(
        timer_, [](uv_timer_t* t) { static_cast<CacheStage*>(t->data)->tick(); }, kTickMs, kTickMs);
  }
  ~WorkerCache() override {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }

  Verdict onRequest(StageRequest& req) override { return stage_->onRequest(req); }
  std::string_view onReply(uint64_t tag, ReplySlot* slot, std::string_view reply,
                           std::string* scratch, bool* kept) override {
    return stage_->onReply(tag, slot, reply, scratch, kept);
  }
  CacheStage* stage() { return stage_.get(); }

private:
  WorkerRequests requests_;
  std::unique_ptr<CacheStage> stage_;
  uv_timer_t* timer_;
};

}  // namespace

void installCacheStage(Worker& worker, CacheStatsRegistry* stats) {
  worker.addStage(std::make_unique<WorkerCache>(worker, stats));
}

CacheStage* workerCacheStage(Worker& worker) {
  for (const auto& s : worker.stages())
    if (auto* c = dynamic_cast<WorkerCache*>(s.get()))
      return c->stage();
  return nullptr;
}

}  // namespace kw

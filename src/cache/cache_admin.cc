// KEYWARDEN CACHE STATS | FLUSH [namespace]: the near cache and blacklists, for operators.
// FLUSH runs on every worker's thread (each owns its cache) and answers when all have.
#include <memory>
#include <mutex>

#include "cache/cache_info.h"
#include "cache/cache_worker.h"
#include "common/ascii.h"
#include "policy/policy.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/worker.h"

namespace kw {

void Session::cmdKeywardenCache(const DecodedRequest& req) {
  worker_->stats().commands_local.add();
  const std::string_view sub = req.args.size() > 2 ? req.args[2] : std::string_view();
  if (equalsIgnoreCase(sub, "stats") && req.args.size() == 3) {
    return replyLocal(
        cacheStatsReply(worker_->shared(), worker_->policy(), worker_->config(), proto_));
  }
  if (!equalsIgnoreCase(sub, "flush") || req.args.size() > 4)
    return replyError("ERR syntax error: KEYWARDEN CACHE STATS | FLUSH [namespace]");
  uint32_t counter = UINT32_MAX;  // every namespace
  if (req.args.size() == 4) {
    const CompiledPolicy& policy = worker_->policy();
    uint32_t found = UINT32_MAX;
    for (uint32_t i = 0; i < policy.namespaceCount(); ++i)
      if (policy.ns(i).name == req.args[3])
        found = i;
    if (found == UINT32_MAX)
      return replyError("ERR no namespace named '" + resp::quotedInError(req.args[3]) + "'");
    const bool cached = found < worker_->config().cache.namespaces.size() &&
                        worker_->config().cache.namespaces[found].near_cache;
    if (!cached)
      return replyError("ERR namespace '" + resp::quotedInError(req.args[3]) +
                        "' is not near-cached (near_cache = true)");
    counter = policy.counterId(found);
  }
  // Every worker flushes its own cache on its own thread; the reply waits for the last one.
  ReplySlot* slot = newSlot();
  slot->external = true;
  struct State {
    std::mutex mu;
    size_t remaining;
  };
  auto& workers = worker_->shared().workers;
  auto st = std::make_shared<State>();
  st->remaining = workers.size();
  Worker* origin = worker_;
  auto finishOne = [st, origin, slot] {
    bool last;
    {
      std::lock_guard<std::mutex> lock(st->mu);
      last = --st->remaining == 0;
    }
    if (last)
      origin->post([origin, slot] { Session::deliver(origin, slot, "+OK\r\n"); });
  };
  for (Worker* w : workers) {
    const bool posted = w->post([w, counter, finishOne] {
      if (CacheStage* stage = workerCacheStage(*w)) {
        if (counter == UINT32_MAX) {
          stage->flush();
          stage->blacklist().onFeedDown();  // replicas reloaded from Redis (if the feed is up)
          if (stage->feed().covered())
            stage->blacklist().onFeedUp();
        } else {
          stage->flushCounterId(counter);
        }
      }
      finishOne();
    });
    if (!posted)
      finishOne();
  }
}

}  // namespace kw

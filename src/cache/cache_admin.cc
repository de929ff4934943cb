// KEYWARDEN CACHE STATS | FLUSH [namespace]: the near cache and blacklists, for operators.
// FLUSH runs on every worker's thread (each owns its cache) and answers when all have.
#include <memory>
#include <mutex>

#include "cache/cache_feature.h"
#include "cache/cache_info.h"
#include "cache/cache_worker.h"
#include "common/ascii.h"
#include "policy/policy.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/worker.h"

namespace kw {

void CacheFeature::keywardenCache(AdminRequest& req) {
  const std::span<const std::string_view> args = req.args();
  Worker& origin_worker = req.worker();
  const std::string_view sub = args.size() > 2 ? args[2] : std::string_view();
  if (equalsIgnoreCase(sub, "stats") && args.size() == 3) {
    return req.reply(
        cacheStatsReply(stats_, origin_worker.policy(), origin_worker.config(), req.proto()));
  }
  if (!equalsIgnoreCase(sub, "flush") || args.size() > 4)
    return req.replyError("ERR syntax error: KEYWARDEN CACHE STATS | FLUSH [namespace]");
  uint32_t counter = UINT32_MAX;  // every namespace
  if (args.size() == 4) {
    const CompiledPolicy& policy = origin_worker.policy();
    uint32_t found = UINT32_MAX;
    for (uint32_t i = 0; i < policy.namespaceCount(); ++i)
      if (policy.ns(i).name == args[3])
        found = i;
    if (found == UINT32_MAX)
      return req.replyError("ERR no namespace named '" + resp::quotedInError(args[3]) + "'");
    const bool cached = found < origin_worker.config().cache.namespaces.size() &&
                        origin_worker.config().cache.namespaces[found].near_cache;
    if (!cached)
      return req.replyError("ERR namespace '" + resp::quotedInError(args[3]) +
                            "' is not near-cached (near_cache = true)");
    counter = policy.counterId(found);
  }
  // Every worker flushes its own cache on its own thread; the reply waits for the last one.
  ReplySlot* slot = req.hold();
  struct State {
    std::mutex mu;
    size_t remaining;
  };
  auto& workers = origin_worker.shared().workers;
  auto st = std::make_shared<State>();
  st->remaining = workers.size();
  Worker* origin = &origin_worker;
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

// BudgetRedis on a pinned RESP2 link of one worker's upstream pool: the enforcer's own
// connection, not tracked, so its reads register nothing and its batches never queue in front of
// clients' requests on a shared link. Acquired on first use, again after it is lost.
//
// With a cluster upstream the commands go through the worker's UpstreamClient instead, which
// routes each to its key's master (SCAN walks every master). The enforcer's scripts take many
// keys of one namespace, in many slots; they are split here, one EVAL per slot, and the per-key
// answers put back in key order. An eviction checks the lease first (GET), then unlinks each
// slot's victims: not atomic with the lease as on one Redis, so an instance that lost its lease
// in that instant may evict once more beside the new holder (over-eviction, never a wrong key).
#pragma once

#include <deque>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "budget/budget_redis.h"
#include "proxy/reply_slot.h"
#include "proxy/upstream_link.h"

namespace kw {

class Worker;

class BudgetLink final : public BudgetRedis, private SlotOwner, private LinkOwner {
public:
  explicit BudgetLink(Worker* worker) : worker_(worker) {}
  BudgetLink(const BudgetLink&) = delete;
  BudgetLink& operator=(const BudgetLink&) = delete;
  // Pending callbacks are dropped, not called; the link goes back to the pool.
  ~BudgetLink();

  void send(std::span<const std::string_view> args, Done done) override;
  // Delivers the errors of commands that could not be sent (never from inside send()).
  void tick();
  size_t pending() const { return inflight_.size(); }

private:
  // SlotOwner.
  void complete(ReplySlot* slot, std::string_view bytes) override;
  // LinkOwner.
  void onStreamBytes(std::string_view) override {}
  void onStreamEnded(UpstreamLink*) override {}
  void onLinkReply(UpstreamLink*) override {}
  void onLinkLost(UpstreamLink* link) override;
  uint64_t ownerId() const override { return 0; }

  void sendRouted(std::span<const std::string_view> args, Done done);
  // An EVAL of per-key script `script` over `keys` (the ARGV after them), one EVAL per slot.
  void evalPerSlot(std::string_view script, std::span<const std::string_view> keys,
                   std::span<const std::string_view> argv, Done done);
  // Calls `done` now, or at the next tick() when inside send().
  void answer(Done& done, std::string_view reply);

  Worker* worker_;
  UpstreamLink* link_ = nullptr;
  std::deque<std::pair<ReplySlot*, Done>> inflight_;  // in send order
  std::vector<std::pair<std::string, Done>> failed_;  // not sent: error, cause
  std::string raw_;                                   // encoding scratch
  bool in_send_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // routed callbacks check it
};

}  // namespace kw

// BudgetRedis on a pinned RESP2 link of one worker's upstream pool: the enforcer's own
// connection, not tracked, so its reads register nothing and its batches never queue in front of
// clients' requests on a shared link. Acquired on first use, again after it is lost.
#pragma once

#include <deque>
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

  Worker* worker_;
  UpstreamLink* link_ = nullptr;
  std::deque<std::pair<ReplySlot*, Done>> inflight_;  // in send order
  std::vector<std::pair<std::string, Done>> failed_;  // not sent: error, cause
  std::string raw_;                                   // encoding scratch
};

}  // namespace kw

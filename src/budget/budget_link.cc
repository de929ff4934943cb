#include "budget/budget_link.h"

#include "proxy/resp_writer.h"
#include "proxy/shared_state.h"
#include "proxy/upstream_errors.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace kw {

BudgetLink::~BudgetLink() {
  // The link frees slots whose owner is gone when their replies (or its failure) arrive.
  for (auto& [slot, done] : inflight_)
    slot->owner = nullptr;
  inflight_.clear();
  if (link_) {
    UpstreamLink* l = link_;
    link_ = nullptr;
    worker_->upstreams().main().anyNode().release(l);
  }
}

void BudgetLink::send(std::span<const std::string_view> args, Done done) {
  std::string cause;
  if (link_ == nullptr || !link_->accepting()) {
    if (link_ != nullptr && inflight_.empty()) {
      worker_->upstreams().main().anyNode().release(link_);
      link_ = nullptr;
    }
    if (link_ == nullptr)
      link_ = worker_->upstreams().main().anyNode().acquire(2, this, &cause);
  }
  if (link_ == nullptr || !link_->accepting()) {
    if (cause.empty())
      cause = link_ ? link_->downCause() : "no connection";
    failed_.emplace_back(upstreamUnavailableError(worker_->shared().upstream_name, cause),
                         std::move(done));
    return;
  }
  raw_.clear();
  resp::arrayHeader(&raw_, static_cast<int64_t>(args.size()));
  for (std::string_view a : args)
    resp::bulk(&raw_, a);
  ReplySlot* slot = worker_->slots().get();
  slot->owner = this;
  slot->start_ns = worker_->nowNs();
  inflight_.emplace_back(slot, std::move(done));
  link_->send(raw_, slot, false);
}

void BudgetLink::tick() {
  if (failed_.empty())
    return;
  std::vector<std::pair<std::string, Done>> failed;
  failed.swap(failed_);
  for (auto& [reply, done] : failed)
    if (done)
      done(reply);
}

void BudgetLink::complete(ReplySlot* slot, std::string_view bytes) {
  Done done;
  for (auto it = inflight_.begin(); it != inflight_.end(); ++it) {
    if (it->first == slot) {
      done = std::move(it->second);
      inflight_.erase(it);
      break;
    }
  }
  worker_->slots().put(slot);
  if (done)
    done(bytes);
}

void BudgetLink::onLinkLost(UpstreamLink* link) {
  if (link == link_)
    link_ = nullptr;  // it frees itself; its requests have had their errors
}

}  // namespace kw

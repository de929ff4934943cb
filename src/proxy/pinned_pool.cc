#include "proxy/pinned_pool.h"

#include <algorithm>

namespace kw {

bool PinnedPool::remove(std::vector<UpstreamLink*>* list, UpstreamLink* link) {
  auto it = std::find(list->begin(), list->end(), link);
  if (it == list->end())
    return false;
  list->erase(it);
  return true;
}

UpstreamLink* PinnedPool::acquire(int proto, LinkOwner* owner, std::string* cause) {
  auto& list = idle(proto);
  UpstreamLink* link = nullptr;
  while (!list.empty() && !link) {
    link = list.back();
    list.pop_back();
    // (A link made ahead of time may still be in its handshake: requests queue behind it.)
    if (!link->accepting()) {
      link->close("stale");
      link = nullptr;
    }
  }
  if (!link) {
    link = factory_->createPinned(proto, cause);
    if (!link)
      return nullptr;
  }
  link->setOwner(owner);
  busy_.push_back(link);
  return link;
}

void PinnedPool::replenish(bool draining) {
  if (draining)
    return;
  for (int proto : {2, 3})
    if (prewarm_[proto - 2] > 0)
      prewarm(proto, prewarm_[proto - 2]);
}

void PinnedPool::prewarm(int proto, size_t n) {
  prewarm_[proto >= 3 ? 1 : 0] = n;
  std::string cause;
  while (idle(proto).size() < std::min(n, max_idle_)) {
    UpstreamLink* link = factory_->createPinned(proto, &cause);
    if (!link)
      return;
    idle(proto).push_back(link);
  }
}

void PinnedPool::release(UpstreamLink* link, bool draining) {
  link->setOwner(nullptr);
  link->pauseReading(false);  // its owner may have left while not reading
  remove(&busy_, link);
  // RESET is not trusted on these: a replica link, a streaming one (its frames are not matched to
  // requests, so RESET's reply cannot be told apart with certainty), a blocked command it would
  // wait behind, a link already broken; nothing is kept while the worker drains or the pool is
  // full.
  const bool reusable = link->mode() == LinkMode::kFramed && !link->blockingInFlight() &&
                        link->accepting() && !draining &&
                        idleCount() + resetting_.size() < max_idle_;
  if (!reusable) {
    link->close("released");
    replenish(draining);
    return;
  }
  if (link->stateful() && link->quietHandshake()) {
    // A new connection is as clean as a RESET makes this one, costs Redis no command, and shows
    // nothing in MONITOR or SLOWLOG between a client's commands.
    link->close("replaced: its client left state on it");
    replenish(draining);
    return;
  }
  if (!link->stateful() && link->inflight() == 0) {
    // Nothing that outlives its reply was sent on it: it is as clean as when it was handed out,
    // and goes back without a RESET (which MONITOR and SLOWLOG would show between a client's
    // commands).
    idle(link->proto()).push_back(link);
    return;
  }
  resetting_.push_back(link);
  link->beginReset();
}

void PinnedPool::onResetDone(UpstreamLink* link, bool clean) {
  if (!remove(&resetting_, link))
    return;
  if (!clean || !link->accepting() || link->inflight() > 0 || link->mode() != LinkMode::kFramed) {
    link->close(clean ? "not clean after reset" : "reset failed");
    return;
  }
  idle(link->proto()).push_back(link);
}

void PinnedPool::forget(UpstreamLink* link) {
  remove(&busy_, link) || remove(&resetting_, link) || remove(&idle_[0], link) ||
      remove(&idle_[1], link);
}

void PinnedPool::closeAll(std::string_view cause) {
  std::vector<UpstreamLink*> all;
  forEach([&](UpstreamLink* l) { all.push_back(l); });
  busy_.clear();
  resetting_.clear();
  idle_[0].clear();
  idle_[1].clear();
  for (UpstreamLink* l : all) {
    l->setOwner(nullptr);
    l->close(cause);
  }
}

}  // namespace kw

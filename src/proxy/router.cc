#include "proxy/router.h"

#include <algorithm>

#include "proxy/reply_slot.h"

namespace kw {

void Router::setPool(LinkPools* pools) {
  if (pools == pools_)
    return;
  pools_ = pools;
  shared_ = nullptr;
  shared_node_ = kNoNode;
}

void Router::setProto(int proto) {
  if (proto == proto_)
    return;
  proto_ = proto;
  shared_ = nullptr;  // the next request goes to a shared link of the new protocol
  shared_node_ = kNoNode;
}

LinkPool* Router::poolOf(NodeId node, std::string* cause) {
  if (!pools_) {
    *cause = "no upstream pool";
    return nullptr;
  }
  return pools_->pool(node, cause);
}

Router::Lane* Router::laneOf(const UpstreamLink* link) {
  for (Lane& lane : lanes_)
    if (lane.link == link)
      return &lane;
  return nullptr;
}

UpstreamLink* Router::sharedLink(NodeId node, std::string* cause) {
  // One shared link per node while the client has requests in flight there: they then run in the
  // order sent. A client with nothing in flight may move: away from a link stuck behind a busy
  // script, so it hears -BUSY from Redis at once as a direct client would.
  for (const Lane& lane : lanes_)
    if (lane.node == node && lane.link != pinned_ && !draining(lane.link) &&
        lane.link->accepting() && lane.link->proto() == proto_)
      return lane.link;
  if (shared_ && shared_node_ == node && shared_->accepting() && shared_->proto() == proto_) {
    LinkPool* pool = poolOf(node, cause);
    if (pool && !pool->stuck(shared_))
      return shared_;
  }
  LinkPool* pool = poolOf(node, cause);
  shared_ = pool ? pool->shared(proto_, cause) : nullptr;
  shared_node_ = shared_ ? node : kNoNode;
  return shared_;
}

UpstreamLink* Router::pin(NodeId node, std::string* cause) {
  if (pinned_ && node != pinned_node_) {
    if (holds_ != 0) {
      *cause = "this client holds a connection to another node (a transaction, WATCH or a "
               "subscription there); the command was not sent";
      return nullptr;
    }
    // Only replies keep it pinned (a transaction whose EXEC is in flight, an own-link request's):
    // it goes back to its pool once they are in, and this client takes a link of `node` now.
    retirePinned();
  }
  if (!pinned_) {
    LinkPool* pool = poolOf(node, cause);
    if (!pool)
      return nullptr;
    pinned_ = pool->acquire(proto_, client_, cause);
    if (!pinned_)
      return nullptr;
    pinned_pool_ = pool;
    pinned_node_ = node;
  }
  if (!pinned_->accepting()) {
    *cause = pinned_->downCause();
    return nullptr;
  }
  return pinned_;
}

UpstreamLink* Router::target(NodeId node, const RequestShape& shape, std::string* cause) {
  UpstreamLink* target = nullptr;
  if (pinned_ && node == pinned_node_) {
    target = pinned_;
  } else if (pinned_ && (holds_ & (kHoldMulti | kHoldRaw)) != 0) {
    // The session refuses a transaction's keys of another slot before they get here.
    *cause = "this client's transaction runs on another node; the command was not sent";
    return nullptr;
  } else if (shape.own_link) {
    return pin(node, cause);
  }
  if (target && !target->accepting()) {
    *cause = target->downCause();
    return nullptr;
  }
  if (target)
    return target;
  // The reply-count rule: only a one-frame request may share a link (request_shape.h).
  if (shape.shape != ReplyShape::kOne) {
    *cause = "internal error: a request that is not answered with one frame cannot share a "
             "connection";
    return nullptr;
  }
  return sharedLink(node, cause);
}

NodeId Router::nodeFor(const Destination& to) const {
  // A keyless request of a client that holds a link goes there (its MULTI, its subscriptions).
  if (to.node == kAnyNode && pinned_)
    return pinned_node_;
  return pools_ ? pools_->resolve(to.node) : kNoNode;
}

bool Router::send(std::string_view raw, ReplySlot* slot, const RequestShape& shape,
                  std::string* cause, const Destination& to) {
  const NodeId node = nodeFor(to);
  UpstreamLink* link = target(node, shape, cause);
  if (!link)
    return false;
  if (link == pinned_ && shape.leaves_state)
    pinned_->markStateful();
  submit(link, node, Kind::kOne, raw, slot, shape.blocking, 0, to.slot_local, to.epoch);
  return true;
}

bool Router::resend(std::string_view raw, std::string_view preload, ReplySlot* slot,
                    const RequestShape& shape, const Destination& to, UpstreamLink* from,
                    bool from_local, std::string* cause) {
  uncount(from, from_local);
  const NodeId node = nodeFor(to);
  // An own-link request (BLPOP) redirected elsewhere: its link, idle now, goes back first.
  if (pinned_ && node != pinned_node_ && holds_ == 0)
    maybeRelease();
  UpstreamLink* link = target(node, shape, cause);
  if (!link) {
    sendDeferred();
    return false;
  }
  if (!deferred_ && mayGo(link, to.slot_local, to.epoch)) {
    if (!preload.empty())
      transmit(link, node, Kind::kDropped, preload, nullptr, false, 1, false, 0);
    transmit(link, node, Kind::kOne, raw, slot, shape.blocking, 0, to.slot_local, to.epoch);
  } else {
    // It was sent before anything waiting here: it goes first.
    if (!deferred_)
      deferred_ = std::make_unique<std::deque<Deferred>>();
    deferred_->push_front({std::string(raw), slot, link, node, Kind::kOne, shape.blocking,
                           to.slot_local, 0, to.epoch});
    if (!preload.empty())
      deferred_->push_front({std::string(preload), nullptr, link, node, Kind::kDropped, false,
                             to.slot_local, 1, to.epoch});
  }
  sendDeferred();
  return true;
}

void Router::sendDropped(std::string_view raw, uint32_t count) {
  // Right behind the request they follow: on the pinned link when there is one (every request
  // goes there then), else where the last request went.
  UpstreamLink* target = pinned_;
  NodeId node = pinned_node_;
  if (!target && deferred_) {
    target = deferred_->back().target;
    node = deferred_->back().node;
  }
  if (!target) {
    target = last_;
    node = kNoNode;
  }
  if (!target) {
    target = shared_;
    node = shared_node_;
  }
  if (!target)
    return;
  submit(target, node, Kind::kDropped, raw, nullptr, false, count);
}

bool Router::hold(uint8_t holds, std::string* cause, const Destination& to) {
  // A keyless hold stays on the pinned link; one for a node (a cluster transaction's first key)
  // goes to that node's link (pin() retires a pinned link that only waits for replies).
  const NodeId node = pinned_ && (holds_ != 0 || to.node == kAnyNode) ? pinned_node_
                      : pools_                                        ? pools_->resolve(to.node)
                                                                      : kNoNode;
  if (!pin(node, cause))
    return false;
  holds_ |= holds;
  return true;
}

void Router::drop(uint8_t holds) {
  holds_ &= static_cast<uint8_t>(~holds);
  maybeRelease();
}

void Router::abandonHolds() {
  if (pinned_ && holds_ != 0)
    pinned_->markStateful();
  drop(0xff);
}

bool Router::startStream(std::string_view raw, std::string* cause, const Destination& to) {
  const NodeId node = pinned_ ? pinned_node_ : pools_ ? pools_->resolve(to.node) : kNoNode;
  UpstreamLink* link = pin(node, cause);
  if (!link)
    return false;
  holds_ |= kHoldStream;
  submit(link, node, Kind::kStreamStart, raw, nullptr, false, 0);
  return true;
}

void Router::sendStream(std::string_view raw) {
  if (pinned_)
    submit(pinned_, pinned_node_, Kind::kStream, raw, nullptr, false, 0);
}

void Router::expectStreamReset(std::string_view token) {
  if (pinned_)
    pinned_->expectStreamReset(token);
}

bool Router::startRaw(std::string_view raw, std::string* cause) {
  // A replica link is never shared with this client's earlier state: a fresh pinned link.
  if (pinned_) {
    *cause = "SYNC/PSYNC needs a connection without transaction, db or pub/sub state; RESET first";
    return false;
  }
  const NodeId node = pools_ ? pools_->resolve(kAnyNode) : kNoNode;
  UpstreamLink* link = pin(node, cause);
  if (!link)
    return false;
  holds_ |= kHoldRaw;
  submit(link, node, Kind::kRawStart, raw, nullptr, false, 0);
  return true;
}

void Router::sendRaw(std::string_view bytes) {
  if (pinned_)
    submit(pinned_, pinned_node_, Kind::kRaw, bytes, nullptr, false, 0);
}

bool Router::mayGo(const UpstreamLink* target, bool slot_local, uint64_t epoch) const {
  if (inflight_ == 0)
    return true;
  if (lanes_.size() == 1 && lanes_.front().link == target)
    return true;  // everything owed is on its own link, which answers in order
  return slot_local && not_local_ == 0 && epoch == local_epoch_;
}

void Router::submit(UpstreamLink* target, NodeId node, Kind kind, std::string_view raw,
                    ReplySlot* slot, bool blocking, uint32_t count, bool slot_local,
                    uint64_t epoch) {
  if (deferred_ || !mayGo(target, slot_local, epoch)) {
    if (!deferred_)
      deferred_ = std::make_unique<std::deque<Deferred>>();
    deferred_->push_back(
        {std::string(raw), slot, target, node, kind, blocking, slot_local, count, epoch});
    return;
  }
  transmit(target, node, kind, raw, slot, blocking, count, slot_local, epoch);
}

void Router::transmit(UpstreamLink* target, NodeId node, Kind kind, std::string_view raw,
                      ReplySlot* slot, bool blocking, uint32_t count, bool slot_local,
                      uint64_t epoch) {
  if (!target->accepting()) {
    // It went down while this waited. A lost pinned link tells the client itself (onLinkLost).
    if (kind == Kind::kOne && slot)
      client_->failUnsent(slot, target->downCause());
    return;
  }
  last_ = target;
  switch (kind) {
  case Kind::kOne:
    if (slot) {
      slot->upstream = true;
      slot->lane = target;
      slot->slot_local = slot_local;
      if (slot_local && inflight_ == not_local_)
        local_epoch_ = epoch;  // the first slot-local request in flight sets the epoch
      if (!slot_local)
        ++not_local_;
      ++inflight_;
      if (Lane* lane = laneOf(target))
        ++lane->inflight;
      else
        lanes_.push_back({target, node, 1});
    }
    target->send(raw, slot, blocking);
    return;
  case Kind::kDropped:
    target->sendDropped(raw, count);
    return;
  case Kind::kStreamStart:
    target->startStreaming(raw);
    return;
  case Kind::kStream:
    target->sendStreaming(raw);
    return;
  case Kind::kRawStart:
    target->startRaw(raw);
    return;
  case Kind::kRaw:
    target->sendRaw(raw);
    return;
  }
}

void Router::sendDeferred() {
  while (deferred_) {
    Deferred& d = deferred_->front();
    if (!mayGo(d.target, d.slot_local, d.epoch))
      return;
    Deferred next = std::move(d);
    deferred_->pop_front();
    if (deferred_->empty())
      deferred_.reset();
    transmit(next.target, next.node, next.kind, next.raw, next.slot, next.blocking, next.count,
             next.slot_local, next.epoch);
  }
  maybeRelease();
}

void Router::uncount(UpstreamLink* lane, bool slot_local) {
  if (inflight_ == 0)
    return;
  --inflight_;
  if (!slot_local && not_local_ > 0)
    --not_local_;
  not_local_ = std::min(not_local_, inflight_);
  for (auto it = lanes_.begin(); it != lanes_.end(); ++it) {
    if (it->link != lane)
      continue;
    if (--it->inflight == 0)
      lanes_.erase(it);
    break;
  }
}

void Router::onReplyDelivered(UpstreamLink* lane, bool slot_local) {
  uncount(lane, slot_local);
  sendDeferred();
}

void Router::onLinkReply(UpstreamLink* link) {
  if (link == pinned_)
    maybeRelease();
  else
    releaseDrained(link);
}

bool Router::draining(const UpstreamLink* link) const {
  for (const auto& [l, pool] : draining_)
    if (l == link)
      return true;
  return false;
}

void Router::retirePinned() {
  UpstreamLink* link = pinned_;
  draining_.emplace_back(link, pinned_pool_);
  pinned_ = nullptr;
  pinned_pool_ = nullptr;
  pinned_node_ = kNoNode;
  releaseDrained(link);
}

void Router::releaseDrained(UpstreamLink* link) {
  for (auto it = draining_.begin(); it != draining_.end(); ++it) {
    if (it->first != link)
      continue;
    if (link->inflight() > 0)
      return;
    if (deferred_)
      for (const Deferred& d : *deferred_)
        if (d.target == link)
          return;
    LinkPool* pool = it->second;
    draining_.erase(it);
    if (last_ == link)
      last_ = nullptr;
    pool->release(link);
    return;
  }
}

void Router::maybeRelease() {
  if (!pinned_ || holds_ != 0 || deferred_ || pinned_->inflight() > 0)
    return;
  UpstreamLink* link = pinned_;
  LinkPool* pool = pinned_pool_;
  pinned_ = nullptr;
  pinned_pool_ = nullptr;
  pinned_node_ = kNoNode;
  if (last_ == link)
    last_ = nullptr;
  pool->release(link);
}

void Router::onLinkLost(UpstreamLink* link, std::vector<ReplySlot*>* orphans) {
  if (link == shared_) {
    shared_ = nullptr;
    shared_node_ = kNoNode;
  }
  if (link == last_)
    last_ = nullptr;
  // The link answered each request in flight with an error before telling us: its lane is
  // normally empty by now.
  for (auto it = lanes_.begin(); it != lanes_.end(); ++it) {
    if (it->link != link)
      continue;
    inflight_ -= std::min(inflight_, it->inflight);
    not_local_ = std::min(not_local_, inflight_);
    lanes_.erase(it);
    break;
  }
  bool was_draining = false;
  for (auto it = draining_.begin(); it != draining_.end(); ++it) {
    if (it->first == link) {
      draining_.erase(it);  // its pool closes it
      was_draining = true;
      break;
    }
  }
  if (link != pinned_ && !was_draining)
    return;
  if (link == pinned_) {
    pinned_ = nullptr;
    pinned_pool_ = nullptr;
    pinned_node_ = kNoNode;
    holds_ = 0;
  }
  if (deferred_) {
    for (auto it = deferred_->begin(); it != deferred_->end();) {
      if (it->target != link) {
        ++it;
        continue;
      }
      if (it->slot)
        orphans->push_back(it->slot);
      it = deferred_->erase(it);
    }
    if (deferred_->empty())
      deferred_.reset();
  }
  sendDeferred();
}

void Router::detach(std::vector<ReplySlot*>* orphans) {
  if (pinned_ && holds_ != 0)
    pinned_->markStateful();  // MULTI, WATCH, a db... left behind by a client that went away
  if (deferred_)
    for (const Deferred& d : *deferred_)
      if (d.slot)
        orphans->push_back(d.slot);
  deferred_.reset();
  holds_ = 0;
  last_ = nullptr;
  shared_ = nullptr;
  shared_node_ = kNoNode;
  inflight_ = 0;
  not_local_ = 0;
  lanes_.clear();
  if (pinned_) {
    UpstreamLink* link = pinned_;
    LinkPool* pool = pinned_pool_;
    pinned_ = nullptr;
    pinned_pool_ = nullptr;
    pinned_node_ = kNoNode;
    pool->release(link);
  }
  std::vector<std::pair<UpstreamLink*, LinkPool*>> drained;
  drained.swap(draining_);
  for (const auto& [link, pool] : drained)
    pool->release(link);
}

}  // namespace kw

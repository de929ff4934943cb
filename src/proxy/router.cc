#include "proxy/router.h"

#include "proxy/reply_slot.h"

namespace kw {

void Router::setPool(LinkPool* pool) {
  if (pool == pool_)
    return;
  pool_ = pool;
  shared_ = nullptr;
}

void Router::setProto(int proto) {
  if (proto == proto_)
    return;
  proto_ = proto;
  shared_ = nullptr;  // the next request goes to a shared link of the new protocol
}

UpstreamLink* Router::sharedLink(std::string* cause) {
  // One shared link per client while it works: its requests then run in the order sent. A client
  // with nothing in flight may move: away from a link stuck behind a busy script, so it hears
  // -BUSY from Redis at once as a direct client would.
  if (shared_ && shared_->accepting() && shared_->proto() == proto_ &&
      (inflight_ > 0 || !pool_->stuck(shared_)))
    return shared_;
  shared_ = pool_ ? pool_->shared(proto_, cause) : nullptr;
  if (!shared_ && !pool_)
    *cause = "no upstream pool";
  return shared_;
}

UpstreamLink* Router::pin(std::string* cause) {
  if (!pinned_) {
    if (!pool_) {
      *cause = "no upstream pool";
      return nullptr;
    }
    pinned_ = pool_->acquire(proto_, client_, cause);
    if (!pinned_)
      return nullptr;
    pinned_pool_ = pool_;
  }
  if (!pinned_->accepting()) {
    *cause = pinned_->downCause();
    return nullptr;
  }
  return pinned_;
}

bool Router::send(std::string_view raw, ReplySlot* slot, const RequestShape& shape,
                  std::string* cause) {
  UpstreamLink* target = pinned_;
  if (!target && shape.own_link) {
    target = pin(cause);
    if (!target)
      return false;
  }
  if (target && !target->accepting()) {
    *cause = target->downCause();
    return false;
  }
  if (!target) {
    // The reply-count rule: only a one-frame request may share a link (request_shape.h).
    if (shape.shape != ReplyShape::kOne) {
      *cause = "internal error: a request that is not answered with one frame cannot share a "
               "connection";
      return false;
    }
    target = sharedLink(cause);
    if (!target)
      return false;
  }
  if (target == pinned_ && shape.leaves_state)
    pinned_->markStateful();
  submit(target, Kind::kOne, raw, slot, shape.blocking, 0);
  return true;
}

void Router::sendDropped(std::string_view raw, uint32_t count) {
  // Right behind the request they follow: on the pinned link when there is one (every request
  // goes there then), else where the last request went.
  UpstreamLink* target = pinned_;
  if (!target)
    target = deferred_ ? deferred_->back().target : route_;
  if (!target)
    target = shared_;
  if (!target)
    return;
  submit(target, Kind::kDropped, raw, nullptr, false, count);
}

bool Router::hold(uint8_t holds, std::string* cause) {
  if (!pin(cause))
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

bool Router::startStream(std::string_view raw, std::string* cause) {
  UpstreamLink* link = pin(cause);
  if (!link)
    return false;
  holds_ |= kHoldStream;
  submit(link, Kind::kStreamStart, raw, nullptr, false, 0);
  return true;
}

void Router::sendStream(std::string_view raw) {
  if (pinned_)
    submit(pinned_, Kind::kStream, raw, nullptr, false, 0);
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
  UpstreamLink* link = pin(cause);
  if (!link)
    return false;
  holds_ |= kHoldRaw;
  submit(link, Kind::kRawStart, raw, nullptr, false, 0);
  return true;
}

void Router::sendRaw(std::string_view bytes) {
  if (pinned_)
    submit(pinned_, Kind::kRaw, bytes, nullptr, false, 0);
}

void Router::submit(UpstreamLink* target, Kind kind, std::string_view raw, ReplySlot* slot,
                    bool blocking, uint32_t count) {
  if (deferred_ || (target != route_ && inflight_ > 0)) {
    if (!deferred_)
      deferred_ = std::make_unique<std::deque<Deferred>>();
    deferred_->push_back({std::string(raw), slot, target, kind, blocking, count});
    return;
  }
  transmit(target, kind, raw, slot, blocking, count);
}

void Router::transmit(UpstreamLink* target, Kind kind, std::string_view raw, ReplySlot* slot,
                      bool blocking, uint32_t count) {
  if (!target->accepting()) {
    // It went down while this waited. A lost pinned link tells the client itself (onLinkLost).
    if (kind == Kind::kOne && slot)
      client_->failUnsent(slot, target->downCause());
    return;
  }
  route_ = target;
  switch (kind) {
  case Kind::kOne:
    if (slot) {
      slot->upstream = true;
      ++inflight_;
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
    if (d.target != route_ && inflight_ > 0)
      return;
    Deferred next = std::move(d);
    deferred_->pop_front();
    if (deferred_->empty())
      deferred_.reset();
    transmit(next.target, next.kind, next.raw, next.slot, next.blocking, next.count);
  }
  maybeRelease();
}

void Router::onReplyDelivered() {
  if (inflight_ > 0 && --inflight_ == 0)
    sendDeferred();
}

void Router::onLinkReply(UpstreamLink* link) {
  if (link == pinned_)
    maybeRelease();
}

void Router::maybeRelease() {
  if (!pinned_ || holds_ != 0 || deferred_ || pinned_->inflight() > 0)
    return;
  UpstreamLink* link = pinned_;
  LinkPool* pool = pinned_pool_;
  pinned_ = nullptr;
  pinned_pool_ = nullptr;
  if (route_ == link)
    route_ = nullptr;
  pool->release(link);
}

void Router::onLinkLost(UpstreamLink* link, std::vector<ReplySlot*>* orphans) {
  if (link == shared_)
    shared_ = nullptr;
  if (link != pinned_)
    return;
  pinned_ = nullptr;
  pinned_pool_ = nullptr;
  holds_ = 0;
  if (route_ == link) {
    route_ = nullptr;
    inflight_ = 0;  // the link answered each of them with an error before telling us
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
  route_ = nullptr;
  shared_ = nullptr;
  inflight_ = 0;
  if (pinned_) {
    UpstreamLink* link = pinned_;
    LinkPool* pool = pinned_pool_;
    pinned_ = nullptr;
    pinned_pool_ = nullptr;
    pool->release(link);
  }
}

}  // namespace kw

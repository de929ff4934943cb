#include "proxy/upstream_pool.h"

#include <algorithm>

#include "proxy/session.h"
#include "proxy/upstream_conn.h"
#include "proxy/worker.h"

namespace kw {

void UpstreamPool::start() {
  ensureShared(2);
}

void UpstreamPool::ensureShared(int proto) {
  auto& list = shared(proto);
  if (!list.empty())
    return;
  const unsigned n = std::max(1u, worker_->config().upstream.connections);
  for (unsigned i = 0; i < n; ++i) {
    auto* c = new UpstreamConn(worker_, proto, UpstreamConn::Role::kShared);
    list.push_back(c);
    c->start();
  }
}

UpstreamConn* UpstreamPool::pickShared(int proto, std::string* cause) {
  ensureShared(proto);
  auto& list = shared(proto);
  // Round robin over the connections that accept requests, to spread sessions: a session then
  // stays on the connection it got (Session::sharedConn) so its requests run in order.
  const size_t n = list.size();
  for (size_t i = 0; i < n; ++i) {
    UpstreamConn* c = list[(next_ + i) % n];
    if (c->accepting()) {
      next_ = (next_ + i + 1) % n;
      return c;
    }
  }
  *cause = list.empty() ? "no upstream connection" : list.front()->downCause();
  return nullptr;
}

UpstreamConn* UpstreamPool::acquirePinned(int proto, Session* owner, std::string* cause) {
  auto& idle = idle_pinned_[proto >= 3 ? 1 : 0];
  UpstreamConn* c = nullptr;
  while (!idle.empty() && !c) {
    c = idle.back();
    idle.pop_back();
    if (!c->accepting()) {
      c->destroy("stale");
      c = nullptr;
    }
  }
  if (!c) {
    c = new UpstreamConn(worker_, proto, UpstreamConn::Role::kPinned);
    c->start();
    if (!c->accepting()) {
      // Failed inside start(): it has already destroyed itself; only its cause is left to read.
      *cause = c->downCause();
      return nullptr;
    }
  }
  c->setOwner(owner);
  busy_pinned_.push_back(c);
  worker_->stats().pinned_acquired.add();
  return c;
}

void UpstreamPool::releasePinned(UpstreamConn* c) {
  c->setOwner(nullptr);
  busy_pinned_.erase(std::remove(busy_pinned_.begin(), busy_pinned_.end(), c), busy_pinned_.end());
  auto& idle = idle_pinned_[c->proto() >= 3 ? 1 : 0];
  const bool clean = !c->state_dirty && !c->passthrough() && c->inflight() == 0 &&
                     c->db == worker_->config().upstream.db &&
                     c->state() == UpstreamConn::State::kReady && !worker_->draining();
  if (clean && idle.size() < worker_->config().upstream.pinned_pool_size) {
    idle.push_back(c);
    worker_->stats().pinned_returned.add();
    return;
  }
  worker_->stats().pinned_closed.add();
  c->destroy("released");
}

void UpstreamPool::pinnedGone(UpstreamConn* c) {
  busy_pinned_.erase(std::remove(busy_pinned_.begin(), busy_pinned_.end(), c), busy_pinned_.end());
  for (auto& idle : idle_pinned_)
    idle.erase(std::remove(idle.begin(), idle.end(), c), idle.end());
}

void UpstreamPool::shutdown() {
  for (auto& list : shared_) {
    for (UpstreamConn* c : list)
      c->destroy("shutting down");
    list.clear();
  }
  for (auto& idle : idle_pinned_) {
    for (UpstreamConn* c : idle)
      c->destroy("shutting down");
    idle.clear();
  }
  std::vector<UpstreamConn*> busy;
  busy.swap(busy_pinned_);
  for (UpstreamConn* c : busy) {
    c->setOwner(nullptr);
    c->destroy("shutting down");
  }
}

void UpstreamPool::forEach(void (*fn)(UpstreamConn*, void*), void* arg) const {
  for (const auto& list : shared_)
    for (UpstreamConn* c : list)
      fn(c, arg);
  for (UpstreamConn* c : busy_pinned_)
    fn(c, arg);
  for (const auto& idle : idle_pinned_)
    for (UpstreamConn* c : idle)
      fn(c, arg);
}

}  // namespace kw

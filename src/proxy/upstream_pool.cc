#include "proxy/upstream_pool.h"

#include <algorithm>

#include "proxy/shared_state.h"
#include "proxy/topology.h"
#include "proxy/upstream_conn.h"
#include "proxy/worker.h"

namespace kw {

UpstreamPool::UpstreamPool(Worker* worker, const UpstreamIdentity* identity, NodeId node,
                           std::string name, const sockaddr_storage& addr, bool main)
    : worker_(worker), identity_(identity), node_(node), name_(std::move(name)), addr_(addr),
      main_(main), pinned_(this, 0) {}

UpstreamPool::~UpstreamPool() {
  shutdown();
}

void UpstreamPool::start() {
  ensureShared(2);
  pinned_.setMaxIdle(worker_->config().upstream.pinned_pool_size);
  pinned_.prewarm(2, kPrewarmedPinned);
}

void UpstreamPool::ensureShared(int proto) {
  auto& list = sharedList(proto);
  if (!list.empty() || shut_down_ || retired_)
    return;
  if (proto >= 3 && main_) {
    // The first RESP3 client: its pinned links are made ready too, before it needs one.
    pinned_.setMaxIdle(worker_->config().upstream.pinned_pool_size);
    pinned_.prewarm(3, kPrewarmedPinned);
  }
  const unsigned n = std::max(1u, worker_->config().upstream.connections);
  for (unsigned i = 0; i < n; ++i) {
    auto* c = new UpstreamConn(worker_, this, proto, UpstreamConn::Role::kShared);
    list.push_back(c);
    c->start();
  }
}

UpstreamLink* UpstreamPool::shared(int proto, std::string* cause) {
  if (retired_) {
    *cause = retired_cause_;
    return nullptr;
  }
  ensureShared(proto);
  auto& list = sharedList(proto);
  // Round robin over the links that accept requests, to spread sessions: a session then stays
  // on the link it got (Router::sharedLink) so its requests run in order.
  const size_t n = list.size();
  UpstreamConn* stuck_one = nullptr;
  for (size_t i = 0; i < n; ++i) {
    UpstreamConn* c = list[(next_ + i) % n];
    if (!c->accepting())
      continue;
    if (stuck(c)) {
      stuck_one = stuck_one ? stuck_one : c;
      continue;
    }
    next_ = (next_ + i + 1) % n;
    return c;
  }
  if (stuck_one) {
    UpstreamConn* s = spare(proto);
    return s && s->accepting() ? s : stuck_one;
  }
  *cause = list.empty() ? "no upstream connection" : list.front()->downCause();
  return nullptr;
}

bool UpstreamPool::stuck(const UpstreamLink* link) const {
  const uint64_t since = link->headSinceNs();
  if (since == 0)
    return false;
  const uint64_t now = worker_->nowNs();
  const uint64_t threshold =
      uint64_t{worker_->shared().busy_threshold_ms.load(std::memory_order_relaxed)} * 1000000;
  return now > since && now - since > threshold;
}

UpstreamConn* UpstreamPool::spare(int proto) {
  UpstreamConn*& s = spare_[proto >= 3 ? 1 : 0];
  if (!s && !shut_down_) {
    s = new UpstreamConn(worker_, this, proto, UpstreamConn::Role::kShared);
    s->start();
  }
  return s;
}

void UpstreamPool::revive() {
  for (auto& list : shared_)
    for (UpstreamConn* c : list)
      c->reconnectNow();
}

void UpstreamPool::retire(std::string_view cause) {
  if (retired_ || shut_down_)
    return;
  retired_ = true;
  retired_cause_.assign(cause);
  for (auto& list : shared_)
    for (UpstreamConn* c : list)
      c->park(cause);
  for (UpstreamConn* s : spare_)
    if (s)
      s->park(cause);
  // Pinned links are closed with their owners told (Router::onLinkLost), so no client keeps one.
  std::vector<UpstreamLink*> all;
  pinned_.forEach([&](UpstreamLink* l) { all.push_back(l); });
  for (UpstreamLink* l : all)
    l->close(cause);
}

void UpstreamPool::restore() {
  if (!retired_ || shut_down_)
    return;
  retired_ = false;
  retired_cause_.clear();
  for (auto& list : shared_)
    for (UpstreamConn* c : list)
      c->unpark();
  for (UpstreamConn* s : spare_)
    if (s)
      s->unpark();
}

UpstreamLink* UpstreamPool::createPinned(int proto, std::string* cause) {
  if (retired_) {
    *cause = retired_cause_;
    return nullptr;
  }
  auto* c = new UpstreamConn(worker_, this, proto, UpstreamConn::Role::kPinned);
  c->start();
  if (!c->accepting()) {
    // Failed inside start() (e.g. no file descriptor left): it has already destroyed itself.
    *cause = c->downCause();
    return nullptr;
  }
  return c;
}

UpstreamLink* UpstreamPool::acquire(int proto, LinkOwner* owner, std::string* cause) {
  if (shut_down_) {
    *cause = "shutting down";
    return nullptr;
  }
  if (retired_) {
    *cause = retired_cause_;
    return nullptr;
  }
  pinned_.setMaxIdle(worker_->config().upstream.pinned_pool_size);
  UpstreamLink* link = pinned_.acquire(proto, owner, cause);
  if (link)
    worker_->stats().pinned_acquired.add();
  return link;
}

void UpstreamPool::release(UpstreamLink* link) {
  pinned_.setMaxIdle(worker_->config().upstream.pinned_pool_size);
  const size_t resetting_before = pinned_.resettingCount();
  const size_t idle_before = pinned_.idleCount();
  pinned_.release(link, worker_->draining() || shut_down_ || retired_);
  if (pinned_.idleCount() > idle_before)
    worker_->stats().pinned_returned.add();  // clean as it was: no reset needed
  else if (pinned_.resettingCount() == resetting_before)
    worker_->stats().pinned_closed.add();
}

void UpstreamPool::onResetDone(UpstreamConn* conn, bool clean) {
  const size_t idle_before = pinned_.idleCount();
  pinned_.onResetDone(conn, clean);
  if (pinned_.idleCount() > idle_before)
    worker_->stats().pinned_returned.add();
}

void UpstreamPool::pinnedGone(UpstreamConn* conn) {
  pinned_.forget(conn);
}

void UpstreamPool::shutdown() {
  if (shut_down_)
    return;
  shut_down_ = true;
  for (auto& list : shared_) {
    std::vector<UpstreamConn*> conns;
    conns.swap(list);
    for (UpstreamConn* c : conns)
      c->destroy("shutting down");
  }
  for (UpstreamConn*& s : spare_) {
    if (s)
      s->destroy("shutting down");
    s = nullptr;
  }
  pinned_.closeAll("shutting down");
}

void UpstreamPool::forEach(void (*fn)(UpstreamConn*, void*), void* arg) const {
  for (const auto& list : shared_)
    for (UpstreamConn* c : list)
      fn(c, arg);
  for (UpstreamConn* s : spare_)
    if (s)
      fn(s, arg);
  pinned_.forEach([&](UpstreamLink* l) { fn(static_cast<UpstreamConn*>(l), arg); });
}

// ---- one identity, every node ----

IdentityPools::IdentityPools(Worker* worker, UpstreamIdentity identity, bool main)
    : worker_(worker), identity_(std::move(identity)), main_(main) {}

IdentityPools::~IdentityPools() {
  shutdown();
}

NodeId IdentityPools::resolve(NodeId node) const {
  return node == kAnyNode ? worker_->topology().anyNode() : node;
}

LinkPool* IdentityPools::pool(NodeId node, std::string* cause) {
  return nodePool(node, cause);
}

UpstreamPool* IdentityPools::nodePool(NodeId node, std::string* cause) {
  node = resolve(node);
  const Topology& topology = worker_->topology();
  if (node == kNoNode || node >= topology.nodes().size()) {
    *cause = worker_->topologyUnknownCause();
    return nullptr;
  }
  if (shut_down_) {
    *cause = "shutting down";
    return nullptr;
  }
  if (by_node_.size() <= node)
    by_node_.resize(node + 1u);
  std::unique_ptr<UpstreamPool>& p = by_node_[node];
  if (!p) {
    const UpstreamNode& n = topology.node(node);
    p = std::make_unique<UpstreamPool>(worker_, &identity_, node, n.name, n.addr, main_);
    if (n.gone)
      p->retire("node " + n.name + " is no longer part of the upstream");
  }
  return p.get();
}

UpstreamLink* IdentityPools::AnyNodePool::shared(int proto, std::string* cause) {
  UpstreamPool* p = owner_->nodePool(kAnyNode, cause);
  return p ? p->shared(proto, cause) : nullptr;
}

bool IdentityPools::AnyNodePool::stuck(const UpstreamLink* link) const {
  return static_cast<const UpstreamConn*>(link)->pool()->stuck(link);
}

UpstreamLink* IdentityPools::AnyNodePool::acquire(int proto, LinkOwner* owner, std::string* cause) {
  UpstreamPool* p = owner_->nodePool(kAnyNode, cause);
  return p ? p->acquire(proto, owner, cause) : nullptr;
}

void IdentityPools::AnyNodePool::release(UpstreamLink* link) {
  static_cast<UpstreamConn*>(link)->pool()->release(link);
}

void IdentityPools::start() {
  onTopology(worker_->topology(), true);
}

void IdentityPools::onTopology(const Topology& topology, bool eager) {
  if (shut_down_)
    return;
  for (size_t i = 0; i < by_node_.size(); ++i) {
    UpstreamPool* p = by_node_[i].get();
    if (!p)
      continue;
    if (i >= topology.nodes().size() || topology.node(static_cast<NodeId>(i)).gone)
      p->retire("node " + p->name() + " is no longer part of the upstream");
    else
      p->restore();
  }
  if (!eager)
    return;
  for (NodeId m : topology.masters()) {
    std::string cause;
    const bool fresh = m >= by_node_.size() || !by_node_[m];
    UpstreamPool* p = nodePool(m, &cause);
    if (p && fresh)
      p->start();
  }
}

void IdentityPools::revive() {
  for (auto& p : by_node_)
    if (p)
      p->revive();
}

void IdentityPools::shutdown() {
  if (shut_down_)
    return;
  shut_down_ = true;
  for (auto& p : by_node_)
    if (p)
      p->shutdown();
}

void IdentityPools::forEach(void (*fn)(UpstreamConn*, void*), void* arg) const {
  for (const auto& p : by_node_)
    if (p)
      p->forEach(fn, arg);
}

// ---- every identity ----

void UpstreamPools::start() {
  const UpstreamConfig& up = worker_->config().upstream;
  main_ =
      std::make_unique<IdentityPools>(worker_, UpstreamIdentity{up.username, up.password}, true);
  main_->start();
}

void UpstreamPools::onTopology(const Topology& topology) {
  if (main_)
    main_->onTopology(topology, true);
  for (auto& [key, pools] : by_identity_)
    pools->onTopology(topology, false);
}

IdentityPools* UpstreamPools::forIdentity(std::string_view user, std::string_view password) {
  const UpstreamIdentity& mine = main_->identity();
  const std::string_view main_user = mine.user.empty() ? "default" : mine.user;
  if (user == main_user && password == mine.password)
    return main_.get();
  std::string key(user);
  key.push_back('\0');
  key.append(password);
  auto it = by_identity_.find(key);
  if (it != by_identity_.end())
    return it->second.get();
  if (by_identity_.size() >= kMaxIdentities)
    return nullptr;
  auto pools = std::make_unique<IdentityPools>(
      worker_, UpstreamIdentity{std::string(user), std::string(password)}, false);
  pools->markIdleSince(worker_->nowMs());
  IdentityPools* raw = pools.get();
  by_identity_.emplace(std::move(key), std::move(pools));
  return raw;
}

void UpstreamPools::housekeeping(uint64_t now_ms) {
  constexpr uint64_t kIdleMs = 60'000;
  for (auto it = by_identity_.begin(); it != by_identity_.end();) {
    IdentityPools& p = *it->second;
    if (p.users() > 0) {
      p.markIdleSince(now_ms);
      ++it;
    } else if (now_ms - p.idleSinceMs() > kIdleMs) {
      it = by_identity_.erase(it);
    } else {
      ++it;
    }
  }
}

void UpstreamPools::shutdown() {
  if (main_)
    main_->shutdown();
  for (auto& [key, pools] : by_identity_)
    pools->shutdown();
}

void UpstreamPools::forEach(void (*fn)(UpstreamConn*, void*), void* arg) const {
  if (main_)
    main_->forEach(fn, arg);
  for (const auto& [key, pools] : by_identity_)
    pools->forEach(fn, arg);
}

}  // namespace kw

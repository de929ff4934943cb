#include "proxy/topology.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace kw {

std::string formatSockaddr(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
    std::string out = "[";
    out.append(host);
    out.append("]:");
    out.append(std::to_string(port));
    return out;
  }
  std::string out(host);
  out.push_back(':');
  out.append(std::to_string(port));
  return out;
}

bool sameSockaddr(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family)
    return false;
  if (a.ss_family == AF_INET) {
    const auto* x = reinterpret_cast<const sockaddr_in*>(&a);
    const auto* y = reinterpret_cast<const sockaddr_in*>(&b);
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a.ss_family == AF_INET6) {
    const auto* x = reinterpret_cast<const sockaddr_in6*>(&a);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(&b);
    return x->sin6_port == y->sin6_port &&
           std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
  }
  return std::memcmp(&a, &b, sizeof a) == 0;  // (a Unix socket: the whole path)
}

std::shared_ptr<const Topology> Topology::single(std::string name, const sockaddr_storage& addr,
                                                 uint64_t generation) {
  auto t = std::make_shared<Topology>();
  t->generation_ = generation;
  t->nodes_.push_back(UpstreamNode{std::move(name), addr, true, kNoNode, false});
  t->masters_.push_back(0);
  t->any_ = 0;
  return t;
}

std::shared_ptr<const Topology> Topology::successor(const Topology* previous, std::string name,
                                                    const sockaddr_storage& addr,
                                                    uint64_t generation) {
  auto t = std::make_shared<Topology>();
  t->generation_ = generation;
  if (previous)
    t->nodes_ = previous->nodes_;
  NodeId id = kNoNode;
  for (size_t i = 0; i < t->nodes_.size(); ++i) {
    UpstreamNode& n = t->nodes_[i];
    n.master = false;
    n.gone = true;
    if (id == kNoNode && sameSockaddr(n.addr, addr))
      id = static_cast<NodeId>(i);
  }
  if (id == kNoNode) {
    id = static_cast<NodeId>(t->nodes_.size());
    t->nodes_.emplace_back();
  }
  UpstreamNode& m = t->nodes_[id];
  m.name = std::move(name);
  m.addr = addr;
  m.master = true;
  m.master_of = kNoNode;
  m.gone = false;
  t->masters_.push_back(id);
  t->any_ = id;
  return t;
}

std::shared_ptr<const Topology> Topology::empty(uint64_t generation) {
  auto t = std::make_shared<Topology>();
  t->generation_ = generation;
  return t;
}

NodeId Topology::find(const sockaddr_storage& addr) const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!nodes_[i].gone && sameSockaddr(nodes_[i].addr, addr))
      return static_cast<NodeId>(i);
  return kNoNode;
}

NodeId Topology::findHostPort(std::string_view host, uint16_t port) const {
  sockaddr_storage ss{};
  const std::string h(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return find(ss);
  }
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return find(ss);
  }
  const std::string name = h + ":" + std::to_string(port);
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!nodes_[i].gone && nodes_[i].name == name)
      return static_cast<NodeId>(i);
  return kNoNode;
}

Topology::Builder::Builder(const Topology* previous, uint64_t generation)
    : t_(std::make_shared<Topology>()) {
  t_->generation_ = generation;
  t_->cluster_ = true;
  if (previous) {
    t_->nodes_ = previous->nodes_;
    for (UpstreamNode& n : t_->nodes_)
      n.gone = true;  // until seen again
  }
  seen_.assign(t_->nodes_.size(), false);
  t_->slots_.assign(kSlotCount, kNoNode);
}

NodeId Topology::Builder::node(const std::string& name, const sockaddr_storage& addr, bool master,
                               NodeId master_of) {
  NodeId id = kNoNode;
  for (size_t i = 0; i < t_->nodes_.size(); ++i)
    if (sameSockaddr(t_->nodes_[i].addr, addr))
      id = static_cast<NodeId>(i);
  if (id == kNoNode) {
    id = static_cast<NodeId>(t_->nodes_.size());
    t_->nodes_.emplace_back();
    seen_.push_back(false);
  }
  UpstreamNode& n = t_->nodes_[id];
  n.name = name;
  n.addr = addr;
  n.master = master;
  n.master_of = master_of;
  n.gone = false;
  if (master && !seen_[id])
    t_->masters_.push_back(id);
  seen_[id] = true;
  return id;
}

void Topology::Builder::assign(uint16_t first_slot, uint16_t last_slot, NodeId master) {
  for (uint32_t s = first_slot; s <= last_slot && s < kSlotCount; ++s)
    t_->slots_[s] = master;
}

std::shared_ptr<const Topology> Topology::Builder::build() {
  // A cluster's masters are those serving slots: a failed master that the cluster still lists
  // (CLUSTER SHARDS keeps it, slotless, until it is forgotten) or an empty one just added is not
  // asked for fan-outs and gets no feed. Without any slot assigned (one Redis), every master.
  std::vector<bool> serving(t_->nodes_.size(), false);
  bool any_slot = false;
  for (NodeId owner : t_->slots_)
    if (owner != kNoNode && owner < serving.size()) {
      serving[owner] = true;
      any_slot = true;
    }
  if (any_slot)
    std::erase_if(t_->masters_, [&](NodeId m) { return m >= serving.size() || !serving[m]; });
  // Keyless commands go to the master of the lowest served slot: a choice that stays the same
  // across refreshes while that master does.
  t_->any_ = kNoNode;
  for (NodeId owner : t_->slots_)
    if (owner != kNoNode) {
      t_->any_ = owner;
      break;
    }
  if (t_->any_ == kNoNode && !t_->masters_.empty())
    t_->any_ = t_->masters_.front();
  return t_;
}

}  // namespace kw

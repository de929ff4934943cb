// The upstream as a topology, not an address: which Redis servers there are and which one serves
// a request. One immutable snapshot at a time, published whole by the topology's source and taken
// by each worker like the configuration (checked once per loop turn); the router asks it which
// node a request goes to, features ask it for every master and hear when it changes. Nothing else
// knows which mode runs.
//
//   question                      standalone       sentinel (issue 17)    cluster
//   nodeForSlot(slot)             the one Redis    the current master     the master of the slot
//   anyNode()                     the one Redis    the current master     the master of the lowest
//                                                                         slots (keyless commands)
//   masters()                     [the one]        [the master]           every master
//   a new snapshot when           never            +switch-master         slots move, a node is
//                                                                         lost or added, failover
//
// Node ids index `nodes` of one snapshot; a later snapshot keeps the id of every node it still has
// (by address), so links and per-node state survive a refresh.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/node_id.h"

namespace kw {

inline constexpr uint16_t kSlotCount = 16384;
// A request with no key (PING, INFO...): any node will do.
inline constexpr uint16_t kAnySlot = 0xffff;

struct UpstreamNode {
  std::string name;  // "host:port", as errors and operators name it
  sockaddr_storage addr{};
  bool master = true;
  NodeId master_of = kNoNode;  // a replica: its master
  bool gone = false;           // no longer part of the topology (its id is kept, unused)
};

class Topology {
public:
  // One Redis (standalone, or the master a sentinel names): every slot is node 0.
  static std::shared_ptr<const Topology> single(std::string name, const sockaddr_storage& addr,
                                                uint64_t generation);
  // The master a sentinel names, after `previous` (may be null): nodes it had keep their ids and
  // are gone unless they are this address, so a new master is a new node (the old one's pools
  // are retired) and a master named again keeps its links.
  static std::shared_ptr<const Topology> successor(const Topology* previous, std::string name,
                                                   const sockaddr_storage& addr,
                                                   uint64_t generation);
  // Nothing known yet (a cluster none of whose seeds answered): every request is refused with
  // the source's reason until a snapshot with nodes arrives.
  static std::shared_ptr<const Topology> empty(uint64_t generation);

  uint64_t generation() const { return generation_; }
  bool cluster() const { return cluster_; }
  const std::vector<UpstreamNode>& nodes() const { return nodes_; }
  const UpstreamNode& node(NodeId id) const { return nodes_[id]; }
  const std::vector<NodeId>& masters() const { return masters_; }
  // kNoNode when there is no node at all.
  NodeId anyNode() const { return any_; }
  NodeId nodeForSlot(uint16_t slot) const {
    if (!cluster_ || slot == kAnySlot)
      return any_;
    return slot < kSlotCount ? slots_[slot] : kNoNode;
  }
  // The node with this address, or kNoNode.
  NodeId find(const sockaddr_storage& addr) const;
  // The node a MOVED/ASK names: an IP address, or a host name as the node's name has it.
  NodeId findHostPort(std::string_view host, uint16_t port) const;

  // For the cluster source (src/cluster/): a snapshot built node by node.
  struct Builder;

private:
  uint64_t generation_ = 0;
  bool cluster_ = false;
  std::vector<UpstreamNode> nodes_;
  std::vector<NodeId> masters_;
  NodeId any_ = kNoNode;
  std::vector<NodeId> slots_;  // cluster: kSlotCount entries, kNoNode where unserved
};

struct Topology::Builder {
  // Starts from `previous` (may be null) so that nodes it had keep their ids.
  Builder(const Topology* previous, uint64_t generation);
  // The id of the node with this address (added if new).
  NodeId node(const std::string& name, const sockaddr_storage& addr, bool master, NodeId master_of);
  void assign(uint16_t first_slot, uint16_t last_slot, NodeId master);
  std::shared_ptr<const Topology> build();

private:
  std::shared_ptr<Topology> t_;
  std::vector<bool> seen_;
};

// "host:port" of an address, for names.
std::string formatSockaddr(const sockaddr_storage& addr);
bool sameSockaddr(const sockaddr_storage& a, const sockaddr_storage& b);

}  // namespace kw

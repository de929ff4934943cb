// The cluster's topology as one immutable value: which master serves each of the 16384 slots,
// every node with its address and role, and each master's replicas. Built only by the parsers
// below, from the raw reply bytes of CLUSTER SHARDS (Redis 7) or CLUSTER SLOTS. Those bytes come
// from the network: anything malformed is an error string, never a crash or a partial map.
//
// Where a node is reached (its "preferred endpoint", set by the cluster's
// cluster-preferred-endpoint-type):
//   endpoint in the reply            Endpoint        host
//   "10.0.0.5" / "node-a.example"    kAddress        that string (an IP, or a host name the
//                                                    caller resolves: managed clusters answer
//                                                    with host names)
//   NULL or ""                       kSameAsSeed     empty: the host the topology was read from,
//                                                    with the node's port (load balancer setups)
//   "?" (hostname preferred, none    kAddress        the node's `ip` when the reply gives one
//   announced)                       kUnknown        otherwise: not reachable until a refresh
// CLUSTER SHARDS without an `endpoint` field (other implementations): hostname, else ip, else
// kSameAsSeed.
//
// What each reply contributes:
//   CLUSTER SHARDS   every node of each shard, with role and health (online/loading/failed); a
//                    shard's master is its node with role "master" (an online one first)
//   CLUSTER SLOTS    per slot range: master, then replicas; health is not reported (Redis leaves
//                    failed replicas out), so every node is kOnline; the 4th element of a node
//                    (Redis 7: map, or flat array in RESP2) gives `ip` and `hostname`
// Slots no master serves map to kNoNode (a cluster with cluster-require-full-coverage no).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/key_slot.h"

namespace kw::cluster {

enum class NodeRole : uint8_t { kMaster, kReplica };
enum class NodeHealth : uint8_t { kOnline, kLoading, kFailed };
enum class Endpoint : uint8_t { kAddress, kSameAsSeed, kUnknown };

struct ClusterNode {
  std::string id;     // the 40-character node id; "host:port" when the reply has none (old SLOTS)
  std::string host;   // where to connect when endpoint == kAddress (an IP or a host name)
  uint16_t port = 0;  // plain TCP port; 0 when the node has only a TLS port
  uint16_t tls_port = 0;  // 0 when not reported
  Endpoint endpoint = Endpoint::kAddress;
  std::string ip;        // as announced (may be empty)
  std::string hostname;  // as announced (may be empty)
  NodeRole role = NodeRole::kMaster;
  NodeHealth health = NodeHealth::kOnline;
  uint16_t master = 0xffff;        // a replica's master (index into nodes()); kNoNode if unknown
  std::vector<uint16_t> replicas;  // a master's replicas (indexes into nodes())
};

class SlotMap {
public:
  static constexpr uint16_t kNoNode = 0xffff;
  static constexpr size_t kMaxNodes = 4096;

  // Index into nodes() of the master serving `slot` (< kSlotCount), or kNoNode.
  uint16_t nodeForSlot(uint16_t slot) const { return slot_owner_[slot]; }
  const ClusterNode& node(uint16_t index) const { return nodes_[index]; }
  const std::vector<ClusterNode>& nodes() const { return nodes_; }

  // Masters serving at least one slot, ordered by the lowest slot each serves: a stable order
  // while slots do not move (a failover keeps it), used to walk every master (SCAN).
  std::span<const uint16_t> masters() const { return masters_; }

  size_t coveredSlots() const { return covered_; }
  bool coversAllSlots() const { return covered_ == kSlotCount; }

  // The node at host:port (host compared with the endpoint host, ip and hostname, exactly, as
  // MOVED/ASK name them), or kNoNode.
  uint16_t findNode(std::string_view host, uint16_t port) const;

  // Same masters serving the same slots at the same addresses (replicas and health aside):
  // whether a refresh changed anything routing depends on.
  bool sameRouting(const SlotMap& other) const;

private:
  friend class SlotMapBuilder;
  SlotMap() { slot_owner_.fill(kNoNode); }

  std::array<uint16_t, kSlotCount> slot_owner_;
  std::vector<ClusterNode> nodes_;
  std::vector<uint16_t> masters_;
  size_t covered_ = 0;
};

struct SlotMapParse {
  std::unique_ptr<const SlotMap> map;  // null on error
  std::string error;                   // empty on success
};

// `reply` is the complete reply (RESP2 or RESP3) to CLUSTER SHARDS / CLUSTER SLOTS. An error
// reply (-ERR unknown command ...) is reported as an error carrying its text.
SlotMapParse parseClusterShards(std::string_view reply);
SlotMapParse parseClusterSlots(std::string_view reply);

}  // namespace kw::cluster

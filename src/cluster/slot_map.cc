#include "cluster/slot_map.h"

#include <unordered_map>

#include "budget/resp_reply.h"

namespace kw::cluster {

using Type = RespNode::Type;

namespace {

bool text(const RespNode& n, std::string_view* out) {
  if (!n.isText())
    return false;
  *out = n.text;
  return true;
}

bool portValue(const RespNode& n, uint16_t* out) {
  int64_t v = 0;
  if (!respInteger(n, &v) || v < 0 || v > 65535)
    return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

bool slotValue(const RespNode& n, uint16_t* out) {
  int64_t v = 0;
  if (!respInteger(n, &v) || v < 0 || v >= kSlotCount)
    return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

// A map (RESP3) or a flat key/value array (RESP2).
bool isRecord(const RespNode& n) {
  return n.type == Type::kMap || (n.type == Type::kArray && n.count % 2 == 0);
}

// The endpoint as the reply gives it: missing (no such field), NULL, or a text.
struct EndpointField {
  bool present = false;
  bool null = false;
  std::string_view value;
};

// See the table in slot_map.h.
void resolveEndpoint(const EndpointField& field, ClusterNode* node) {
  node->endpoint = Endpoint::kAddress;
  if (!field.present) {
    node->host = !node->hostname.empty() ? node->hostname : node->ip;
    if (node->host.empty())
      node->endpoint = Endpoint::kSameAsSeed;
    return;
  }
  if (field.null || field.value.empty()) {
    node->host.clear();
    node->endpoint = Endpoint::kSameAsSeed;
    return;
  }
  if (field.value == "?") {
    node->host = node->ip;
    if (node->host.empty())
      node->endpoint = Endpoint::kUnknown;
    return;
  }
  node->host = std::string(field.value);
}

std::string errorReply(std::string_view command, const RespNode& root) {
  return std::string(command) + " answered an error: " + std::string(root.text);
}

}  // namespace

class SlotMapBuilder {
public:
  explicit SlotMapBuilder(std::string_view command) : command_(command), map_(new SlotMap()) {}

  bool fail(std::string message) {
    error_ = std::string(command_) + " reply: " + std::move(message);
    return false;
  }

  // The index of the node with node.id, added if new; kNoNode (and an error) when a node with
  // that id was already seen with another role.
  uint16_t addNode(ClusterNode node) {
    auto it = by_id_.find(node.id);
    if (it != by_id_.end()) {
      if (map_->nodes_[it->second].role != node.role) {
        fail("node " + node.id + " is listed both as a master and as a replica");
        return SlotMap::kNoNode;
      }
      return it->second;
    }
    if (map_->nodes_.size() >= SlotMap::kMaxNodes) {
      fail("more than " + std::to_string(SlotMap::kMaxNodes) + " nodes");
      return SlotMap::kNoNode;
    }
    const auto index = static_cast<uint16_t>(map_->nodes_.size());
    by_id_.emplace(node.id, index);
    map_->nodes_.push_back(std::move(node));
    return index;
  }

  NodeRole nodeRole(uint16_t index) const { return map_->nodes_[index].role; }

  bool linkReplica(uint16_t master, uint16_t replica) {
    ClusterNode& r = map_->nodes_[replica];
    if (r.master == master)
      return true;
    if (r.master != SlotMap::kNoNode)
      return fail("replica " + r.id + " is listed under two masters");
    r.master = master;
    map_->nodes_[master].replicas.push_back(replica);
    return true;
  }

  bool assign(uint16_t first, uint16_t last, uint16_t master) {
    if (first > last)
      return fail("slot range " + std::to_string(first) + "-" + std::to_string(last) +
                  " is reversed");
    for (uint32_t s = first; s <= last; ++s) {
      uint16_t& owner = map_->slot_owner_[s];
      if (owner != SlotMap::kNoNode && owner != master)
        return fail("slot " + std::to_string(s) + " is served by two masters");
      owner = master;
    }
    return true;
  }

  SlotMapParse finish() {
    SlotMapParse out;
    if (!error_.empty()) {
      out.error = std::move(error_);
      return out;
    }
    std::vector<bool> listed(map_->nodes_.size(), false);
    for (const uint16_t owner : map_->slot_owner_) {
      if (owner == SlotMap::kNoNode)
        continue;
      ++map_->covered_;
      if (!listed[owner]) {
        listed[owner] = true;
        map_->masters_.push_back(owner);
      }
    }
    out.map = std::move(map_);
    return out;
  }

  SlotMapParse failed() {
    SlotMapParse out;
    out.error = error_.empty() ? std::string(command_) + " reply: malformed" : std::move(error_);
    return out;
  }

private:
  std::string_view command_;
  std::unique_ptr<SlotMap> map_;
  std::unordered_map<std::string, uint16_t> by_id_;
  std::string error_;
};

namespace {

// One node of a CLUSTER SHARDS shard.
bool shardNode(const RespReply& r, const RespNode& n, SlotMapBuilder* b, ClusterNode* out) {
  if (!isRecord(n))
    return b->fail("a node is not a map");
  EndpointField endpoint;
  bool has_role = false;
  for (uint32_t i = 0; i + 1 < n.count; i += 2) {
    std::string_view key;
    if (!text(r.child(n, i), &key))
      return b->fail("a node field name is not a string");
    const RespNode& v = r.child(n, i + 1);
    std::string_view s;
    if (key == "id") {
      if (!text(v, &s) || s.empty())
        return b->fail("a node id is not a string");
      out->id = std::string(s);
    } else if (key == "port") {
      if (!portValue(v, &out->port))
        return b->fail("a node port is not a port number");
    } else if (key == "tls-port") {
      if (!portValue(v, &out->tls_port))
        return b->fail("a node tls-port is not a port number");
    } else if (key == "ip") {
      if (v.type != Type::kNull && !text(v, &s))
        return b->fail("a node ip is not a string");
      out->ip = std::string(s);
    } else if (key == "hostname") {
      if (v.type != Type::kNull && !text(v, &s))
        return b->fail("a node hostname is not a string");
      out->hostname = std::string(s);
    } else if (key == "endpoint") {
      endpoint.present = true;
      endpoint.null = v.type == Type::kNull;
      if (!endpoint.null && !text(v, &endpoint.value))
        return b->fail("a node endpoint is not a string");
    } else if (key == "role") {
      if (!text(v, &s))
        return b->fail("a node role is not a string");
      if (s == "master") {
        out->role = NodeRole::kMaster;
      } else if (s == "replica" || s == "slave") {
        out->role = NodeRole::kReplica;
      } else {
        return b->fail("unknown node role \"" + std::string(s) + "\"");
      }
      has_role = true;
    } else if (key == "health") {
      if (!text(v, &s))
        return b->fail("a node health is not a string");
      // Anything but online/failed (a state a later Redis may add) is "not eligible now".
      out->health = s == "online"   ? NodeHealth::kOnline
                    : s == "failed" ? NodeHealth::kFailed
                                    : NodeHealth::kLoading;
    }
  }
  if (out->id.empty())
    return b->fail("a node has no id");
  if (!has_role)
    return b->fail("node " + out->id + " has no role");
  if (out->port == 0 && out->tls_port == 0)
    return b->fail("node " + out->id + " has no port");
  resolveEndpoint(endpoint, out);
  return true;
}

bool shard(const RespReply& r, const RespNode& s, SlotMapBuilder* b) {
  if (!isRecord(s))
    return b->fail("a shard is not a map");
  const RespNode& slots = r.field(s, "slots");
  const RespNode& nodes = r.field(s, "nodes");
  if (slots.type != Type::kArray || slots.count % 2 != 0)
    return b->fail("a shard's slots are not a list of ranges");
  if (nodes.type != Type::kArray)
    return b->fail("a shard's nodes are not a list");
  std::vector<ClusterNode> parsed(nodes.count);
  for (uint32_t i = 0; i < nodes.count; ++i)
    if (!shardNode(r, r.child(nodes, i), b, &parsed[i]))
      return false;
  // The shard's master: its node with role master, an online one first.
  int chosen = -1;
  for (uint32_t i = 0; i < parsed.size(); ++i) {
    if (parsed[i].role != NodeRole::kMaster)
      continue;
    if (chosen < 0 ||
        (parsed[chosen].health != NodeHealth::kOnline && parsed[i].health == NodeHealth::kOnline))
      chosen = static_cast<int>(i);
  }
  std::vector<uint16_t> index(parsed.size(), SlotMap::kNoNode);
  for (uint32_t i = 0; i < parsed.size(); ++i) {
    index[i] = b->addNode(std::move(parsed[i]));
    if (index[i] == SlotMap::kNoNode)
      return false;
  }
  if (chosen < 0) {
    // No master (all of it lost): its slots stay unserved until a refresh finds one.
    return true;
  }
  for (uint32_t i = 0; i < index.size(); ++i) {
    if (static_cast<int>(i) != chosen && b->nodeRole(index[i]) == NodeRole::kReplica &&
        !b->linkReplica(index[chosen], index[i]))
      return false;
  }
  for (uint32_t i = 0; i < slots.count; i += 2) {
    uint16_t first = 0, last = 0;
    if (!slotValue(r.child(slots, i), &first) || !slotValue(r.child(slots, i + 1), &last))
      return b->fail("a slot is not a number in 0..16383");
    if (!b->assign(first, last, index[chosen]))
      return false;
  }
  return true;
}

// One node of a CLUSTER SLOTS range: [endpoint, port, id?, metadata?].
bool slotsNode(const RespReply& r, const RespNode& n, SlotMapBuilder* b, ClusterNode* out) {
  if (n.type != Type::kArray || n.count < 2)
    return b->fail("a node is not a list of endpoint and port");
  EndpointField endpoint;
  endpoint.present = true;
  const RespNode& e = r.child(n, 0);
  endpoint.null = e.type == Type::kNull;
  if (!endpoint.null && !text(e, &endpoint.value))
    return b->fail("a node endpoint is not a string");
  if (!portValue(r.child(n, 1), &out->port) || out->port == 0)
    return b->fail("a node port is not a port number");
  std::string_view s;
  if (n.count >= 3) {
    if (!text(r.child(n, 2), &s) || s.empty())
      return b->fail("a node id is not a string");
    out->id = std::string(s);
  }
  if (n.count >= 4) {
    const RespNode& meta = r.child(n, 3);
    if (!isRecord(meta))
      return b->fail("a node's metadata is not a map");
    for (uint32_t i = 0; i + 1 < meta.count; i += 2) {
      std::string_view key;
      if (!text(r.child(meta, i), &key))
        return b->fail("a node metadata name is not a string");
      const RespNode& v = r.child(meta, i + 1);
      if (key != "ip" && key != "hostname")
        continue;
      s = {};
      if (v.type != Type::kNull && !text(v, &s))
        return b->fail("a node " + std::string(key) + " is not a string");
      (key == "ip" ? out->ip : out->hostname) = std::string(s);
    }
  }
  // The endpoint is the ip unless the metadata says otherwise (it lists what is not the
  // endpoint): with ip preferred there is no "ip" entry.
  if (out->ip.empty() && !endpoint.null && endpoint.value != "?" && endpoint.value != "" &&
      endpoint.value != out->hostname)
    out->ip = std::string(endpoint.value);
  resolveEndpoint(endpoint, out);
  if (out->id.empty())
    out->id = (out->endpoint == Endpoint::kAddress ? out->host : std::string()) + ":" +
              std::to_string(out->port);
  return true;
}

}  // namespace

SlotMapParse parseClusterShards(std::string_view reply) {
  SlotMapBuilder b("CLUSTER SHARDS");
  RespReply r;
  if (!r.parse(reply)) {
    b.fail("not one well-formed RESP value");
    return b.failed();
  }
  const RespNode& root = r.root();
  if (root.type == Type::kError) {
    SlotMapParse out;
    out.error = errorReply("CLUSTER SHARDS", root);
    return out;
  }
  if (root.type != Type::kArray) {
    b.fail("not a list of shards");
    return b.failed();
  }
  for (uint32_t i = 0; i < root.count; ++i)
    if (!shard(r, r.child(root, i), &b))
      return b.failed();
  return b.finish();
}

SlotMapParse parseClusterSlots(std::string_view reply) {
  SlotMapBuilder b("CLUSTER SLOTS");
  RespReply r;
  if (!r.parse(reply)) {
    b.fail("not one well-formed RESP value");
    return b.failed();
  }
  const RespNode& root = r.root();
  if (root.type == Type::kError) {
    SlotMapParse out;
    out.error = errorReply("CLUSTER SLOTS", root);
    return out;
  }
  if (root.type != Type::kArray) {
    b.fail("not a list of slot ranges");
    return b.failed();
  }
  for (uint32_t i = 0; i < root.count; ++i) {
    const RespNode& range = r.child(root, i);
    if (range.type != Type::kArray || range.count < 3) {
      b.fail("a slot range is not [first, last, master, replicas...]");
      return b.failed();
    }
    uint16_t first = 0, last = 0;
    if (!slotValue(r.child(range, 0), &first) || !slotValue(r.child(range, 1), &last)) {
      b.fail("a slot is not a number in 0..16383");
      return b.failed();
    }
    uint16_t master = SlotMap::kNoNode;
    for (uint32_t j = 2; j < range.count; ++j) {
      ClusterNode node;
      if (!slotsNode(r, r.child(range, j), &b, &node))
        return b.failed();
      node.role = j == 2 ? NodeRole::kMaster : NodeRole::kReplica;
      const uint16_t index = b.addNode(std::move(node));
      if (index == SlotMap::kNoNode)
        return b.failed();
      if (j == 2)
        master = index;
      else if (!b.linkReplica(master, index))
        return b.failed();
    }
    if (!b.assign(first, last, master))
      return b.failed();
  }
  return b.finish();
}

uint16_t SlotMap::findNode(std::string_view host, uint16_t port) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const ClusterNode& n = nodes_[i];
    if (n.port != port && n.tls_port != port)
      continue;
    const bool match = host.empty() ? n.endpoint == Endpoint::kSameAsSeed
                                    : (n.endpoint == Endpoint::kAddress && host == n.host) ||
                                          host == n.ip || host == n.hostname;
    if (match)
      return static_cast<uint16_t>(i);
  }
  return kNoNode;
}

bool SlotMap::sameRouting(const SlotMap& other) const {
  if (covered_ != other.covered_ || masters_.size() != other.masters_.size())
    return false;
  for (size_t s = 0; s < kSlotCount; ++s) {
    const uint16_t a = slot_owner_[s], b = other.slot_owner_[s];
    if (a == kNoNode || b == kNoNode) {
      if (a != b)
        return false;
      continue;
    }
    const ClusterNode& x = nodes_[a];
    const ClusterNode& y = other.nodes_[b];
    if (x.id != y.id || x.host != y.host || x.port != y.port || x.tls_port != y.tls_port ||
        x.endpoint != y.endpoint)
      return false;
  }
  return true;
}

}  // namespace kw::cluster

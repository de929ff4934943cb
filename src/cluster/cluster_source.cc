#include "cluster/cluster_source.h"

#include <chrono>

#include "cluster/node_query.h"
#include "common/config_loader.h"
#include "common/log.h"
#include "proxy/shared_state.h"

namespace kw::cluster {
namespace {

uint64_t nowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Where a node is reached, as MOVED/ASK and operators name it.
std::string hostOf(const ClusterNode& n, const std::string& seed_host) {
  if (n.endpoint == Endpoint::kSameAsSeed)
    return seed_host;
  return n.host;
}

// The port keywarden connects to: over TLS the node's TLS port (CLUSTER SHARDS names it tls-port;
// CLUSTER SLOTS asked over TLS reports it as the port), else its plain port. 0: none.
uint16_t portFor(const ClusterNode& n, bool tls) {
  if (tls)
    return n.tls_port != 0 ? n.tls_port : n.port;
  return n.port;
}

}  // namespace

ClusterSource::ClusterSource(const UpstreamConfig& upstream) : upstream_(upstream) {}

ClusterSource::~ClusterSource() {
  stop();
}

std::string ClusterSource::name() const {
  std::string out = "cluster ";
  for (size_t i = 0; i < upstream_.seeds.size(); ++i) {
    if (i > 0)
      out += ',';
    out += formatHostPort(upstream_.seeds[i]);
  }
  return out;
}

bool ClusterSource::start(SharedState* shared, std::string* /*error*/) {
  shared_ = shared;
  readMap(RefreshCause::kStart);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!topology_) {
      KW_LOG_WARN("cluster: no seed answered (%s); requests are refused until one does",
                  last_error_.c_str());
      shared_->publishTopology(Topology::empty(++generation_));
    }
  }
  thread_ = std::thread([this] { run(); });
  return true;
}

void ClusterSource::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void ClusterSource::refresh(RefreshCause cause) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (requested_)
      return;
    requested_ = true;
    requested_cause_ = cause;
  }
  cv_.notify_all();
}

void ClusterSource::run() {
  setThreadLogName("cluster");
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const uint64_t since = nowMs() - last_refresh_ms_;
    const uint64_t period = upstream_.topology_refresh_ms;
    if (requested_ && since < kMinIntervalMs) {
      cv_.wait_for(lock, std::chrono::milliseconds(kMinIntervalMs - since));
      continue;
    }
    if (!requested_ && since < period) {
      cv_.wait_for(lock, std::chrono::milliseconds(period - since));
      continue;
    }
    const RefreshCause cause = requested_ ? requested_cause_ : RefreshCause::kPeriodic;
    requested_ = false;
    lock.unlock();
    readMap(cause);
    lock.lock();
  }
}

bool ClusterSource::fetch(const std::string& host, uint16_t port,
                          std::unique_ptr<const SlotMap>* map, std::string* error) {
  sockaddr_storage addr{};
  if (!resolveNode(host, port, &addr, error))
    return false;
  NodeQuery q;
  NodeTls tls;
  if (upstream_.tls.enabled) {
    tls.context = shared_->tls.upstreamContext();
    tls.server_name = upstream_.tls.server_name.empty() ? host : upstream_.tls.server_name;
    tls.session_key = host + ":" + std::to_string(port);
  }
  if (!q.connect(addr, upstream_.connect_timeout_ms, upstream_.username, upstream_.password, error,
                 upstream_.tls.enabled ? &tls : nullptr))
    return false;
  std::string reply;
  if (!q.command({"CLUSTER", "SHARDS"}, &reply, error))
    return false;
  SlotMapParse parsed = parseClusterShards(reply);
  if (!parsed.map) {
    // Before Redis 7 (or another implementation): CLUSTER SLOTS.
    if (!q.command({"CLUSTER", "SLOTS"}, &reply, error))
      return false;
    parsed = parseClusterSlots(reply);
  }
  if (!parsed.map) {
    *error = parsed.error;
    return false;
  }
  *map = std::move(parsed.map);
  return true;
}

std::shared_ptr<const Topology>
ClusterSource::build(const SlotMap& map, const std::string& seed_host, std::string* error) {
  Topology::Builder b(topology_.get(), generation_ + 1);
  std::vector<NodeId> ids(map.nodes().size(), kNoNode);
  // Masters first, so a replica names its master's id.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < map.nodes().size(); ++i) {
      const ClusterNode& n = map.node(static_cast<uint16_t>(i));
      const bool master = n.role == NodeRole::kMaster;
      const uint16_t port = portFor(n, upstream_.tls.enabled);
      if ((pass == 0) != master || n.endpoint == Endpoint::kUnknown || port == 0)
        continue;
      const std::string host = hostOf(n, seed_host);
      sockaddr_storage addr{};
      std::string why;
      if (!resolveNode(host, port, &addr, &why)) {
        *error = "cannot resolve node " + host + ": " + why;
        continue;  // routed to no one until it resolves: its slots answer CLUSTERDOWN
      }
      const NodeId master_of = !master && n.master < ids.size() ? ids[n.master] : kNoNode;
      ids[i] = b.node(host + ":" + std::to_string(port), addr, master, master_of);
    }
  }
  uint32_t first = 0;
  while (first < kSlotCount) {
    const uint16_t owner = map.nodeForSlot(static_cast<uint16_t>(first));
    uint32_t last = first;
    while (last + 1 < kSlotCount && map.nodeForSlot(static_cast<uint16_t>(last + 1)) == owner)
      ++last;
    if (owner != SlotMap::kNoNode && owner < ids.size() && ids[owner] != kNoNode)
      b.assign(static_cast<uint16_t>(first), static_cast<uint16_t>(last), ids[owner]);
    first = last + 1;
  }
  return b.build();
}

void ClusterSource::readMap(RefreshCause cause) {
  // The masters it knows, then the seeds: the first that answers tells the map.
  std::vector<std::pair<std::string, uint16_t>> candidates;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (map_)
      for (uint16_t m : map_->masters())
        if (const uint16_t port = portFor(map_->node(m), upstream_.tls.enabled); port != 0)
          candidates.emplace_back(map_->node(m).host.empty() ? last_source_ : map_->node(m).host,
                                  port);
  }
  for (const HostPort& seed : upstream_.seeds)
    candidates.emplace_back(seed.host, seed.port);
  std::unique_ptr<const SlotMap> map;
  std::string error;
  std::string source_host;
  for (const auto& [host, port] : candidates) {
    std::string why;
    if (fetch(host, port, &map, &why)) {
      source_host = host;
      break;
    }
    error = host + ":" + std::to_string(port) + ": " + why;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++refreshes_;
  last_refresh_ms_ = nowMs();
  last_cause_ = cause;
  if (!map) {
    ++failures_;
    if (last_error_ != error)
      KW_LOG_WARN("cluster: cannot read the slot map (%s)", error.c_str());
    last_error_ = error;
    return;
  }
  last_error_.clear();
  const bool changed = !map_ || !map_->sameRouting(*map);
  last_source_ = source_host;
  if (!changed) {
    map_ = std::move(map);
    return;
  }
  std::string build_error;
  auto topology = build(*map, source_host, &build_error);
  if (!build_error.empty())
    KW_LOG_WARN("cluster: %s", build_error.c_str());
  ++generation_;
  ++changes_;
  KW_LOG_INFO("cluster: %zu masters, %zu of 16384 slots served (read from %s, %s)",
              topology->masters().size(), map->coveredSlots(), source_host.c_str(),
              refreshCauseName(cause));
  map_ = std::move(map);
  topology_ = topology;
  shared_->publishTopology(std::move(topology));
}

std::string ClusterSource::describe() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = "mode:cluster\r\nseeds:";
  for (size_t i = 0; i < upstream_.seeds.size(); ++i) {
    if (i > 0)
      out += ',';
    out += formatHostPort(upstream_.seeds[i]);
  }
  out += "\r\n";
  out += "topology_generation:" + std::to_string(generation_) + "\r\n";
  out += "masters:" + std::to_string(topology_ ? topology_->masters().size() : 0) + "\r\n";
  out += "slots_served:" + std::to_string(map_ ? map_->coveredSlots() : 0) + "\r\n";
  out += "refreshes:" + std::to_string(refreshes_) + "\r\n";
  out += "refresh_changes:" + std::to_string(changes_) + "\r\n";
  out += "refresh_failures:" + std::to_string(failures_) + "\r\n";
  out += "last_refresh_ms_ago:" + std::to_string(nowMs() - last_refresh_ms_) + "\r\n";
  out += std::string("last_refresh_cause:") + refreshCauseName(last_cause_) + "\r\n";
  out += "last_refresh_error:" + last_error_ + "\r\n";
  out += "read_from:" + last_source_ + "\r\n";
  return out;
}

}  // namespace kw::cluster

// Where the upstream's topology comes from, and who keeps it current. One source per process,
// made by the composition root for the configured mode; it publishes whole snapshots
// (SharedState::publishTopology) that every worker takes at its next loop turn.
//
//   mode         source                        snapshots
//   standalone   StandaloneSource (here)       one, at start: the configured address
//   cluster      cluster::ClusterSource        the slot map, read again periodically and on
//                (src/cluster/)                request (a MOVED, a lost node, CLUSTERDOWN)
//   sentinel     sentinel::SentinelSource      the master the sentinels name, followed through
//                (src/sentinel/)               +switch-master and asked again on request (a lost
//                                              link, a link whose ROLE is not master, -READONLY)
//
// A source may also ask every new link to prove it reached the node it was made for (sentinel:
// ROLE says master), and name error replies that mean the node changed role (-READONLY): the
// link is closed after that reply is delivered, and the source asked to look again.
//
// Workers never read the topology from the network themselves: they ask the source to look
// again (refresh) and route by whatever snapshot they hold meanwhile.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/config.h"

namespace kw {

class SharedState;

enum class RefreshCause : uint8_t {
  kStart,
  kPeriodic,
  kMoved,        // a node answered MOVED: the map is stale for at least that slot
  kNodeLost,     // a link to a node failed or could not connect
  kClusterDown,  // a node answered CLUSTERDOWN / TRYAGAIN
  kUnknownNode,  // a redirect named a node the snapshot does not have
  kNotMaster,    // a new link's check failed (sentinel: ROLE is not master)
  kReadonly,     // a reply said the node is a replica now (-READONLY)
  kAnnounced,    // the topology announced a change itself (sentinel: +switch-master)
};
const char* refreshCauseName(RefreshCause cause);

class TopologySource {
public:
  virtual ~TopologySource() = default;
  // Publishes a first snapshot into `shared` before returning (an empty one when nothing
  // answered: not fatal, the source keeps trying), then keeps it current. False with *error
  // only for what no retry can fix.
  virtual bool start(SharedState* shared, std::string* error) = 0;
  virtual void stop() = 0;
  // Thread-safe, cheap, rate-limited by the source: a worker's reason to look again.
  virtual void refresh(RefreshCause cause) = 0;
  // Thread-safe: lines for KEYWARDEN CLUSTER / INFO (last refresh, its cause, counts).
  virtual std::string describe() const = 0;
  // "host:port" or "cluster seed1,seed2": how operators and error texts name the upstream.
  virtual std::string name() const = 0;

  // Thread-safe, called by workers on a link's handshake and on error replies only.
  // The command sent on every new link right after the handshake (complete RESP), empty for
  // none; its reply goes to linkCheckPasses: false (with *why) closes the link and asks for a
  // refresh (kNotMaster).
  virtual std::string_view linkCheckCommand() const { return {}; }
  virtual bool linkCheckPasses(std::string_view /*reply*/, std::string* /*why*/) const {
    return true;
  }
  // An error reply by which the node says it is no longer what the topology made it (a demoted
  // master's -READONLY).
  virtual bool staleNodeReply(std::string_view /*reply*/) const { return false; }
  // While true, a request no link can take waits (up to the request timeout) for the topology to
  // settle instead of being refused at once (sentinel: a failover replaces the master).
  virtual bool waitForTopology() const { return false; }
  // Master changes seen since start (sentinel failovers), for keywarden_upstream_failovers_total.
  virtual uint64_t failoversSeen() const { return 0; }
};

// The standalone mode's source: the configured address, resolved once.
std::unique_ptr<TopologySource> makeStandaloneSource(const UpstreamConfig& upstream);

}  // namespace kw

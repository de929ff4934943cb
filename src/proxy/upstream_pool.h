// A worker's upstream links for one upstream identity (the user keywarden authenticates as):
// a few shared links per protocol version (RESP2 and RESP3 replies are forwarded verbatim, so a
// client is always served by a link speaking its protocol), and the pinned links of clients that
// hold connection state (pinned_pool.h keeps the clean-state rule).
//
// A spare shared link per protocol, opened the first time every shared link is stuck (its head
// request older than Redis's busy threshold: a long script, a CLIENT PAUSE), takes the clients
// that have nothing in flight on the stuck one, so they hear -BUSY at once as direct clients do.
// Spares are kept, like shared links, for the worker's life.
//
// One UpstreamPool per identity and node: IdentityPools holds an identity's pools, one per node of
// the worker's topology (the one Redis; every cluster node a request went to), made on first use
// (the masters of the configured identity at start). A node that leaves the topology has its pool
// retired: links closed, requests refused with the reason, nothing reconnects until it is back.
// A node's pool lives as long as its IdentityPools (clients keep pointers to their links).
//
// UpstreamPools holds the configured identity's pools and, when keywarden has no users of its
// own and clients AUTH as one of the upstream Redis's ACL users, one IdentityPools per such user,
// so Redis's ACL applies to their commands while requests of many clients still share links.
#pragma once

#include <cstdint>
#include <sys/socket.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/node_id.h"
#include "proxy/pinned_pool.h"
#include "proxy/upstream_link.h"

namespace kw {

class Worker;
class UpstreamConn;
class Topology;

struct UpstreamIdentity {
  std::string user;      // empty: the default user
  std::string password;  // empty: no AUTH
};

class UpstreamPool final : public LinkPool, private PinnedPool::Factory {
public:
  // `identity` belongs to the IdentityPools that owns this pool. `main`: the configured
  // identity's (its first RESP3 client makes RESP3 pinned links ready too).
  UpstreamPool(Worker* worker, const UpstreamIdentity* identity, NodeId node, std::string name,
               const sockaddr_storage& addr, bool main);
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;
  ~UpstreamPool();

  // Connects the shared RESP2 links eagerly, and kPrewarmedPinned idle pinned ones; RESP3 ones
  // on first use.
  void start();
  static constexpr size_t kPrewarmedPinned = 2;
  void shutdown();

  UpstreamLink* shared(int proto, std::string* cause) override;
  bool stuck(const UpstreamLink* link) const override;
  UpstreamLink* acquire(int proto, LinkOwner* owner, std::string* cause) override;
  void release(UpstreamLink* link) override;

  // Credentials just proved good (an AUTH as this identity succeeded): shared links waiting out
  // a reconnect backoff (Redis closed them, e.g. ACL DELUSER then SETUSER) connect again now.
  void revive();
  // The node left the topology (`cause` says how): every link is closed (requests in flight get
  // the usual lost error, never a resend), new requests are refused with `cause`, and nothing
  // reconnects until restore().
  void retire(std::string_view cause);
  void restore();
  bool retired() const { return retired_; }

  // From the links themselves.
  void onResetDone(UpstreamConn* conn, bool clean);
  void pinnedGone(UpstreamConn* conn);

  const UpstreamIdentity& identity() const { return *identity_; }
  NodeId node() const { return node_; }
  // "host:port" of the node, as errors and logs name it.
  const std::string& name() const { return name_; }
  const sockaddr_storage& address() const { return addr_; }

  size_t sharedCount() const {
    return shared_[0].size() + shared_[1].size() + (spare_[0] ? 1 : 0) + (spare_[1] ? 1 : 0);
  }
  void forEach(void (*fn)(UpstreamConn*, void*), void* arg) const;

private:
  UpstreamLink* createPinned(int proto, std::string* cause) override;
  std::vector<UpstreamConn*>& sharedList(int proto) { return shared_[proto >= 3 ? 1 : 0]; }
  void ensureShared(int proto);
  UpstreamConn* spare(int proto);

  Worker* worker_;
  const UpstreamIdentity* identity_;
  const NodeId node_;
  const std::string name_;
  const sockaddr_storage addr_;
  const bool main_;
  std::vector<UpstreamConn*> shared_[2];
  UpstreamConn* spare_[2] = {nullptr, nullptr};
  PinnedPool pinned_;
  size_t next_ = 0;
  bool shut_down_ = false;
  bool retired_ = false;
  std::string retired_cause_;
};

// One identity's pools, one per node (LinkPools, for the router).
class IdentityPools final : public LinkPools {
  // LinkPool of whichever node keyless requests go to at each call; a link goes back to the pool
  // it came from.
  class AnyNodePool final : public LinkPool {
  public:
    explicit AnyNodePool(IdentityPools* owner) : owner_(owner) {}
    UpstreamLink* shared(int proto, std::string* cause) override;
    bool stuck(const UpstreamLink* link) const override;
    UpstreamLink* acquire(int proto, LinkOwner* owner, std::string* cause) override;
    void release(UpstreamLink* link) override;

  private:
    IdentityPools* owner_;
  };

public:
  IdentityPools(Worker* worker, UpstreamIdentity identity, bool main);
  IdentityPools(const IdentityPools&) = delete;
  IdentityPools& operator=(const IdentityPools&) = delete;
  ~IdentityPools();

  NodeId resolve(NodeId node) const override;
  LinkPool* pool(NodeId node, std::string* cause) override;
  // The pool of `node` (resolved), made if need be; nullptr with *cause when the topology has no
  // such node now.
  UpstreamPool* nodePool(NodeId node, std::string* cause);
  // The pool of the node keyless requests go to now, as one LinkPool, for keywarden's own links
  // that talk to "the" Redis.
  LinkPool& anyNode() { return any_; }

  // Starts the pools of every master (the configured identity: before any client needs them).
  void start();
  // A new topology: pools of nodes it no longer has are retired, those it has again restored,
  // new masters started (when `eager`).
  void onTopology(const Topology& topology, bool eager);
  void shutdown();
  // Credentials just proved good: every node's shared links reconnect now (UpstreamPool::revive).
  void revive();

  const UpstreamIdentity& identity() const { return identity_; }
  // Sessions using this identity (identity pools with none are closed by housekeeping).
  void addUser() { ++users_; }
  void removeUser() { --users_; }
  uint32_t users() const { return users_; }
  uint64_t idleSinceMs() const { return idle_since_ms_; }
  void markIdleSince(uint64_t ms) { idle_since_ms_ = ms; }
  void forEach(void (*fn)(UpstreamConn*, void*), void* arg) const;
  template <typename Fn> void forEachPool(Fn&& fn) const {
    for (const auto& p : by_node_)
      if (p)
        fn(*p);
  }

private:
  Worker* worker_;
  const UpstreamIdentity identity_;
  const bool main_;
  std::vector<std::unique_ptr<UpstreamPool>> by_node_;  // indexed by NodeId
  AnyNodePool any_{this};
  uint32_t users_ = 0;
  uint64_t idle_since_ms_ = 0;
  bool shut_down_ = false;
};

class UpstreamPools {
public:
  explicit UpstreamPools(Worker* worker) : worker_(worker) {}
  // The configured identity's pools (created by start(), on the worker's thread).
  IdentityPools& main() { return *main_; }
  // The pools of an upstream ACL user; created on first use. nullptr when too many identities
  // are in use on this worker.
  IdentityPools* forIdentity(std::string_view user, std::string_view password);
  void start();
  void shutdown();
  // The worker took a new topology snapshot.
  void onTopology(const Topology& topology);
  // Closes identity pools no client has used for a while.
  void housekeeping(uint64_t now_ms);
  void forEach(void (*fn)(UpstreamConn*, void*), void* arg) const;

  static constexpr size_t kMaxIdentities = 64;

private:
  Worker* worker_;
  std::unique_ptr<IdentityPools> main_;
  std::map<std::string, std::unique_ptr<IdentityPools>> by_identity_;
};

}  // namespace kw

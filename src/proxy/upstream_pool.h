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
// UpstreamPools holds the configured identity's pool and, when keywarden has no users of its own
// and clients AUTH as one of the upstream Redis's ACL users, one pool per such user, so Redis's
// ACL applies to their commands while requests of many clients still share links.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/pinned_pool.h"
#include "proxy/upstream_link.h"

namespace kw {

class Worker;
class UpstreamConn;

struct UpstreamIdentity {
  std::string user;      // empty: the default user
  std::string password;  // empty: no AUTH
};

class UpstreamPool final : public LinkPool, private PinnedPool::Factory {
public:
  UpstreamPool(Worker* worker, UpstreamIdentity identity);
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

  // From the links themselves.
  void onResetDone(UpstreamConn* conn, bool clean);
  void pinnedGone(UpstreamConn* conn);

  const UpstreamIdentity& identity() const { return identity_; }
  // Sessions using this pool (identity pools with none are closed by housekeeping).
  void addUser() { ++users_; }
  void removeUser() { --users_; }
  uint32_t users() const { return users_; }
  uint64_t idleSinceMs() const { return idle_since_ms_; }
  void markIdleSince(uint64_t ms) { idle_since_ms_ = ms; }

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
  UpstreamIdentity identity_;
  std::vector<UpstreamConn*> shared_[2];
  UpstreamConn* spare_[2] = {nullptr, nullptr};
  PinnedPool pinned_;
  size_t next_ = 0;
  uint32_t users_ = 0;
  uint64_t idle_since_ms_ = 0;
  bool shut_down_ = false;
};

class UpstreamPools {
public:
  explicit UpstreamPools(Worker* worker) : worker_(worker) {}
  // The configured identity's pool (created by start(), on the worker's thread).
  UpstreamPool& main() { return *main_; }
  // The pool of an upstream ACL user; created on first use. nullptr when too many identities
  // are in use on this worker.
  UpstreamPool* forIdentity(std::string_view user, std::string_view password);
  void start();
  void shutdown();
  // Closes identity pools no client has used for a while.
  void housekeeping(uint64_t now_ms);
  void forEach(void (*fn)(UpstreamConn*, void*), void* arg) const;

  static constexpr size_t kMaxIdentities = 64;

private:
  Worker* worker_;
  std::unique_ptr<UpstreamPool> main_;
  std::map<std::string, std::unique_ptr<UpstreamPool>> by_identity_;
};

}  // namespace kw

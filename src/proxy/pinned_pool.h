// Pinned links: one client's alone while it holds connection state (MULTI, WATCH, SELECT, a
// blocking command, pub/sub...). The clean-state rule lives here: a link another client used
// goes back to the idle list only after RESET and the handshake were sent on it again and every
// reply was checked ("+RESET", HELLO's map, SELECT's +OK) -- unless nothing that leaves state was
// ever sent on it (UpstreamLink::stateful: only data commands, MULTI/EXEC, WATCH/UNWATCH,
// blocking commands, all answered), in which case it is already as clean as it was. A link that
// cannot be proven clean that way is closed: a replication or streaming link, one with a blocked
// command in flight (RESET would wait behind it), one that failed, or any link while the worker
// drains.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/upstream_link.h"

namespace kw {

class PinnedPool {
public:
  class Factory {
  public:
    // A new link (it may still be connecting), or nullptr with *cause.
    virtual UpstreamLink* createPinned(int proto, std::string* cause) = 0;

  protected:
    ~Factory() = default;
  };

  PinnedPool(Factory* factory, size_t max_idle) : factory_(factory), max_idle_(max_idle) {}

  // An idle clean link of `proto`, or a new one. nullptr (and *cause) if a new one failed at once.
  UpstreamLink* acquire(int proto, LinkOwner* owner, std::string* cause);
  // Opens links ahead of need (up to `n` idle of `proto`), so that the handshake of a new
  // connection does not run between a client's commands (where MONITOR and SLOWLOG would show it).
  void prewarm(int proto, size_t n);
  // The clean-state rule: reset-then-pool, or close.
  void release(UpstreamLink* link, bool draining);
  // The link checked every reply of its reset: `clean` false closes it.
  void onResetDone(UpstreamLink* link, bool clean);
  // The link failed or closed on its own: forget it.
  void forget(UpstreamLink* link);
  void closeAll(std::string_view cause);
  void setMaxIdle(size_t n) { max_idle_ = n; }

  size_t idleCount() const { return idle_[0].size() + idle_[1].size(); }
  size_t resettingCount() const { return resetting_.size(); }
  size_t busyCount() const { return busy_.size(); }
  template <typename Fn> void forEach(Fn&& fn) const {
    for (UpstreamLink* l : busy_)
      fn(l);
    for (UpstreamLink* l : resetting_)
      fn(l);
    for (const auto& list : idle_)
      for (UpstreamLink* l : list)
        fn(l);
  }

private:
  std::vector<UpstreamLink*>& idle(int proto) { return idle_[proto >= 3 ? 1 : 0]; }
  static bool remove(std::vector<UpstreamLink*>* list, UpstreamLink* link);
  // A link was closed: the prewarmed supply is made up again (a new link of a quiet handshake is
  // invisible, so it may as well be made now rather than when a client waits for it).
  void replenish(bool draining);

  Factory* factory_;
  size_t max_idle_;
  size_t prewarm_[2] = {0, 0};  // idle links kept ready, per protocol
  std::vector<UpstreamLink*> idle_[2];
  std::vector<UpstreamLink*> resetting_;
  std::vector<UpstreamLink*> busy_;
};

}  // namespace kw

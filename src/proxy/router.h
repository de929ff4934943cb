// Which upstream link each request of one client goes to. One Router per session; the session
// keeps the client socket, the reply FIFO and the connection state it emulates, and asks the
// router to send.
//
//   request shape (request_shape.h)      link
//   kOne, client holds nothing           the session's shared link (same one while it has
//                                        requests in flight, so its requests run in order);
//                                        with nothing in flight, not a stuck one (LinkPool::stuck:
//                                        its head is older than Redis's busy threshold)
//   kOne, own_link (BLPOP, SCRIPT KILL)  a pinned link, released when its reply is in
//   kOne while a hold is set             the pinned link
//   kStream / kRaw                       a pinned link in streaming / raw mode, until RESET,
//                                        a lost link or the client leaves
//   holds: MULTI, WATCH, a non-default db, streaming, raw, a slow reader: the pinned link stays
//   while any is set.
//
// Ordering gate: a client's requests run on one link at a time. When the target changes while
// replies are still owed by the previous link, later requests wait here (`deferred_`) until those
// replies are in, so a client always reads its own writes.
//
// Release: a pinned link goes back to its LinkPool (which proves it clean with RESET before anyone
// else gets it, see pinned_pool.h) when no hold is set, nothing is in flight on it and nothing
// waits to be sent.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/request_shape.h"
#include "proxy/upstream_link.h"

namespace kw {

struct ReplySlot;

// The session, as the router sees it.
class RouteClient : public LinkOwner {
public:
  // A request that waited for its turn cannot be sent: its link went down meanwhile.
  virtual void failUnsent(ReplySlot* slot, std::string_view cause) = 0;

protected:
  ~RouteClient() = default;
};

class Router {
public:
  enum Hold : uint8_t {
    kHoldMulti = 1u << 0,
    kHoldWatch = 1u << 1,
    kHoldDb = 1u << 2,      // a SELECTed db other than the configured one
    kHoldStream = 1u << 3,  // pub/sub, MONITOR, tracking
    kHoldRaw = 1u << 4,     // SYNC / PSYNC
    // A client over its reply buffer cap: its own link, so keywarden can stop reading Redis for
    // it without holding up anyone else.
    kHoldSlowReader = 1u << 5,
    // Named by another client's CLIENT TRACKING ... REDIRECT: Redis sends the invalidations to
    // a connection of this client's, which it keeps (its SUBSCRIBE __redis__:invalidate runs
    // there).
    kHoldRedirectTarget = 1u << 6,
  };

  explicit Router(RouteClient* client) : client_(client) {}
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // The identity's pool (shared links and pinned ones). The next shared or pinned link comes
  // from it; a link already pinned stays.
  void setPool(LinkPool* pool);
  LinkPool* pool() const { return pool_; }
  // The protocol the client speaks: its shared links are of that protocol. A pinned link is
  // switched by the caller (HELLO sent on it) and told with UpstreamLink::setProto.
  void setProto(int proto);
  int proto() const { return proto_; }

  // Sends a request that gets exactly one reply frame, to `slot`. False (and *cause) when no
  // link can take it; nothing was sent and the caller answers the error.
  bool send(std::string_view raw, ReplySlot* slot, const RequestShape& shape, std::string* cause);
  // Commands whose replies nobody reads, right behind the last request, on the same link.
  void sendDropped(std::string_view raw, uint32_t count);

  // Keeps a pinned link (pinning one now if there is none) while any of `holds` is set.
  bool hold(uint8_t holds, std::string* cause);
  // Clears holds; the link is released once nothing holds it and nothing is in flight.
  void drop(uint8_t holds);
  // Clears every hold without telling Redis (the client's RESET is answered here): whatever the
  // pinned link keeps upstream (MULTI, WATCH, a db) is still there, so the pool resets or
  // replaces that link before anyone else gets it.
  void abandonHolds();
  bool held(uint8_t holds) const { return (holds_ & holds) != 0; }
  uint8_t holds() const { return holds_; }

  // Streaming: the pinned link streams every frame to the owner from now on.
  bool startStream(std::string_view raw, std::string* cause);
  void sendStream(std::string_view raw);
  // The client's RESET was sent while streaming, then PING <token>: its answer ends the stream.
  void expectStreamReset(std::string_view token);
  // Raw replication stream: SYNC/PSYNC, then the client's bytes as they come.
  bool startRaw(std::string_view raw, std::string* cause);
  void sendRaw(std::string_view bytes);
  bool streaming() const { return (holds_ & (kHoldStream | kHoldRaw)) != 0; }

  // A reply to one of this client's sent requests was delivered (from upstream or a failure).
  void onReplyDelivered();
  // A frame was read from the pinned link: it may be idle now.
  void onLinkReply(UpstreamLink* link);
  // The pinned link failed. Requests that were waiting to go to it are appended to `orphans`
  // (their slots get the caller's error); every hold is cleared.
  void onLinkLost(UpstreamLink* link, std::vector<ReplySlot*>* orphans);
  // The client is gone: the pinned link goes back to its pool; the slots of requests that were
  // never sent are appended to `orphans` for the caller to free.
  void detach(std::vector<ReplySlot*>* orphans);

  UpstreamLink* pinned() const { return pinned_; }
  UpstreamLink* current() const { return route_; }
  uint32_t inflight() const { return inflight_; }
  bool waiting() const { return deferred_ != nullptr; }

private:
  enum class Kind : uint8_t { kOne, kDropped, kStreamStart, kStream, kRawStart, kRaw };
  struct Deferred {
    std::string raw;
    ReplySlot* slot;
    UpstreamLink* target;
    Kind kind;
    bool blocking;
    uint32_t count;  // kDropped: commands in raw
  };

  UpstreamLink* pin(std::string* cause);
  UpstreamLink* sharedLink(std::string* cause);
  void submit(UpstreamLink* target, Kind kind, std::string_view raw, ReplySlot* slot, bool blocking,
              uint32_t count);
  void transmit(UpstreamLink* target, Kind kind, std::string_view raw, ReplySlot* slot,
                bool blocking, uint32_t count);
  void sendDeferred();
  void maybeRelease();

  RouteClient* client_;
  LinkPool* pool_ = nullptr;
  LinkPool* pinned_pool_ = nullptr;  // the pool the pinned link came from
  int proto_ = 2;
  UpstreamLink* route_ = nullptr;   // where this client's in-flight requests are
  UpstreamLink* shared_ = nullptr;  // the shared link this client sticks to while it works
  UpstreamLink* pinned_ = nullptr;
  uint8_t holds_ = 0;
  uint32_t inflight_ = 0;  // this client's replies owed by route_
  // Allocated while something waits, freed once empty: an idle client holds no queue.
  std::unique_ptr<std::deque<Deferred>> deferred_;
};

}  // namespace kw

// Which upstream link each request of one client goes to: the one place that decides it, whatever
// the upstream is (one Redis, a cluster's nodes). One Router per session; the session keeps the
// client socket, the reply FIFO and the connection state it emulates, works out the request's
// node (Destination: the master of its key's slot, or kAnyNode), and asks the router to send.
//
//   request shape (request_shape.h)      link
//   kOne, client holds nothing           a shared link of the node (the same one while the
//                                        client has requests in flight there, so they run in
//                                        order); with nothing in flight, not a stuck one
//                                        (LinkPool::stuck: its head is older than Redis's busy
//                                        threshold)
//   kOne, own_link (BLPOP, SCRIPT KILL)  a pinned link of the node, released when its reply is in
//   kOne while a hold is set             the pinned link, when the request is for its node
//   kStream / kRaw                       a pinned link in streaming / raw mode, until RESET,
//                                        a lost link or the client leaves
//   holds: MULTI, WATCH, a non-default db, streaming, raw, a slow reader: the pinned link stays
//   while any is set.
//
// Ordering gate: a client reads its own writes. A request goes out at once when nothing is in
// flight, when everything in flight is on its own link, or when it and everything in flight are
// slot-local (each touches one hash slot) and were routed under the same routing epoch: then
// requests for one slot always share a node and a link, and requests for different nodes touch
// different keys, so they may run side by side (a cluster client's pipeline spread over masters).
// Otherwise it waits here (`deferred_`) until the replies it could overtake are in. A redirect
// (MOVED) or a new topology starts a new epoch, so nothing overtakes a request being redirected.
//
// Release: a pinned link goes back to its LinkPool (which proves it clean with RESET before anyone
// else gets it, see pinned_pool.h) when no hold is set, nothing is in flight on it and nothing
// waits to be sent. A pinned link with no hold but replies still owed (a transaction's EXEC, a
// BLPOP) that the client needs a pinned link of another node beside (cluster: the next
// transaction or blocking command is for another master) drains: it stops being the pinned link,
// and goes back once its replies are in.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/node_id.h"
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

// Where a request goes, as the session worked it out.
struct Destination {
  NodeId node = kAnyNode;
  // It touches exactly one hash slot (cluster mode): it may run beside other slot-local requests
  // of the same epoch on other nodes.
  bool slot_local = false;
  uint64_t epoch = 0;           // the worker's routing epoch when `node` was chosen
  uint16_t hash_slot = 0xffff;  // slot_local: which one (a redirect sends it again by it)
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

  // The identity's pools (shared links and pinned ones, per node). The next shared or pinned
  // link comes from them; a link already pinned stays.
  void setPool(LinkPools* pools);
  LinkPools* pool() const { return pools_; }
  // The protocol the client speaks: its shared links are of that protocol. A pinned link is
  // switched by the caller (HELLO sent on it) and told with UpstreamLink::setProto.
  void setProto(int proto);
  int proto() const { return proto_; }

  // Sends a request that gets exactly one reply frame, to `slot`. False (and *cause) when no
  // link can take it; nothing was sent and the caller answers the error.
  bool send(std::string_view raw, ReplySlot* slot, const RequestShape& shape, std::string* cause,
            const Destination& to = {});
  // A request whose reply said "not here" (a cluster's MOVED, ASK, TRYAGAIN) goes again, to
  // `to`, ahead of anything of this client's that waited behind it; `preload` (ASKING), when not
  // empty, right before it on the same link, its reply dropped. Until now the slot counted as
  // owed by `from` (its lane when it was sent). False with *cause when no link can take it.
  bool resend(std::string_view raw, std::string_view preload, ReplySlot* slot,
              const RequestShape& shape, const Destination& to, UpstreamLink* from, bool from_local,
              std::string* cause);
  // Commands whose replies nobody reads, right behind the last request, on the same link.
  void sendDropped(std::string_view raw, uint32_t count);

  // Keeps a pinned link (pinning one of `to`'s node now if there is none) while any of `holds`
  // is set.
  bool hold(uint8_t holds, std::string* cause, const Destination& to = {});
  // Clears holds; the link is released once nothing holds it and nothing is in flight.
  void drop(uint8_t holds);
  // Clears every hold without telling Redis (the client's RESET is answered here): whatever the
  // pinned link keeps upstream (MULTI, WATCH, a db) is still there, so the pool resets or
  // replaces that link before anyone else gets it.
  void abandonHolds();
  bool held(uint8_t holds) const { return (holds_ & holds) != 0; }
  uint8_t holds() const { return holds_; }

  // Streaming: the pinned link streams every frame to the owner from now on.
  bool startStream(std::string_view raw, std::string* cause, const Destination& to = {});
  void sendStream(std::string_view raw);
  // The client's RESET was sent while streaming, then PING <token>: its answer ends the stream.
  void expectStreamReset(std::string_view token);
  // Raw replication stream: SYNC/PSYNC, then the client's bytes as they come.
  bool startRaw(std::string_view raw, std::string* cause);
  void sendRaw(std::string_view bytes);
  bool streaming() const { return (holds_ & (kHoldStream | kHoldRaw)) != 0; }

  // A reply to one of this client's sent requests was delivered (from upstream or a failure);
  // `lane` and `slot_local` as the slot had them when its reply came (ReplySlot::lane).
  void onReplyDelivered(UpstreamLink* lane, bool slot_local);
  // A frame was read from the pinned link: it may be idle now.
  void onLinkReply(UpstreamLink* link);
  // The pinned link failed. Requests that were waiting to go to it are appended to `orphans`
  // (their slots get the caller's error); every hold is cleared.
  void onLinkLost(UpstreamLink* link, std::vector<ReplySlot*>* orphans);
  // The client is gone: the pinned link goes back to its pool; the slots of requests that were
  // never sent are appended to `orphans` for the caller to free.
  void detach(std::vector<ReplySlot*>* orphans);

  UpstreamLink* pinned() const { return pinned_; }
  NodeId pinnedNode() const { return pinned_node_; }
  // The link the last request went to (its send queue tells the session to wait for room).
  UpstreamLink* current() const { return last_; }
  uint32_t inflight() const { return inflight_; }
  bool waiting() const { return deferred_ != nullptr; }

private:
  enum class Kind : uint8_t { kOne, kDropped, kStreamStart, kStream, kRawStart, kRaw };
  struct Deferred {
    std::string raw;
    ReplySlot* slot;
    UpstreamLink* target;
    NodeId node;
    Kind kind;
    bool blocking;
    bool slot_local;
    uint32_t count;  // kDropped: commands in raw
    uint64_t epoch;
  };
  // Replies owed by one link.
  struct Lane {
    UpstreamLink* link;
    NodeId node;
    uint32_t inflight;
  };

  UpstreamLink* pin(NodeId node, std::string* cause);
  UpstreamLink* target(NodeId node, const RequestShape& shape, std::string* cause);
  NodeId nodeFor(const Destination& to) const;
  void uncount(UpstreamLink* lane, bool slot_local);
  UpstreamLink* sharedLink(NodeId node, std::string* cause);
  LinkPool* poolOf(NodeId node, std::string* cause);
  bool mayGo(const UpstreamLink* target, bool slot_local, uint64_t epoch) const;
  void submit(UpstreamLink* target, NodeId node, Kind kind, std::string_view raw, ReplySlot* slot,
              bool blocking, uint32_t count, bool slot_local = false, uint64_t epoch = 0);
  void transmit(UpstreamLink* target, NodeId node, Kind kind, std::string_view raw, ReplySlot* slot,
                bool blocking, uint32_t count, bool slot_local, uint64_t epoch);
  void sendDeferred();
  void maybeRelease();
  // The pinned link, with no hold left, leaves its place for a link of another node: it is kept
  // (draining_) until the replies owed on it are in, then goes back to its pool.
  void retirePinned();
  void releaseDrained(UpstreamLink* link);
  bool draining(const UpstreamLink* link) const;
  Lane* laneOf(const UpstreamLink* link);

  RouteClient* client_;
  LinkPools* pools_ = nullptr;
  LinkPool* pinned_pool_ = nullptr;  // the pool the pinned link came from
  int proto_ = 2;
  UpstreamLink* last_ = nullptr;    // where the last request went
  UpstreamLink* shared_ = nullptr;  // the shared link this client sticks to while it works
  NodeId shared_node_ = kNoNode;    // (of this node)
  UpstreamLink* pinned_ = nullptr;
  NodeId pinned_node_ = kNoNode;
  uint8_t holds_ = 0;
  uint32_t inflight_ = 0;     // this client's replies owed, on every lane
  uint32_t not_local_ = 0;    // of them, for requests that are not slot-local
  uint64_t local_epoch_ = 0;  // the epoch of the slot-local ones
  // One lane per link with replies owed (one, but for a cluster client's pipeline across nodes).
  std::vector<Lane> lanes_;
  // Allocated while something waits, freed once empty: an idle client holds no queue.
  std::unique_ptr<std::deque<Deferred>> deferred_;
  // Formerly pinned links waiting for their last replies (retirePinned), with their pools.
  std::vector<std::pair<UpstreamLink*, LinkPool*>> draining_;
};

}  // namespace kw

// The seam between routing and sockets: what the router and the pinned pool need of one upstream
// connection (UpstreamLink), of the pools that hand links out (LinkPool, one per node, and
// LinkPools, every node's), and of the client a pinned link serves (LinkOwner). UpstreamConn,
// UpstreamPool, IdentityPools and Session implement them; the unit tests of the router and of the
// pool's clean-state rule fake them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/node_id.h"

namespace kw {

struct ReplySlot;
class UpstreamLink;

// The client a pinned link belongs to.
class LinkOwner {
public:
  // A frame of a streaming link (pub/sub message, MONITOR line, push), or raw replication bytes.
  virtual void onStreamBytes(std::string_view bytes) = 0;
  // The owner's RESET reached Redis ("+RESET" arrived): streaming has ended on `link`.
  virtual void onStreamEnded(UpstreamLink* link) = 0;
  // A reply (owned or dropped) was read from `link`: it may have nothing in flight now.
  virtual void onLinkReply(UpstreamLink* link) = 0;
  // `link` failed: every request in flight on it has had its error; it is gone.
  virtual void onLinkLost(UpstreamLink* link) = 0;
  // For operators (KEYWARDEN UPSTREAM): the client id.
  virtual uint64_t ownerId() const = 0;

protected:
  ~LinkOwner() = default;
};

// What is known of a link's connection state, for the pool's clean-state rule.
enum class LinkMode : uint8_t {
  kFramed,     // replies matched to requests one frame each
  kStreaming,  // pub/sub, MONITOR, tracking: frames stream to the owner
  kRaw,        // SYNC/PSYNC: bytes, no framing; never reusable
};

class UpstreamLink {
public:
  virtual ~UpstreamLink() = default;

  // True if a request queued now will be sent (connected, or on the first connect attempt).
  virtual bool accepting() const = 0;
  virtual const std::string& downCause() const = 0;
  virtual int proto() const = 0;
  virtual size_t inflight() const = 0;
  virtual bool blockingInFlight() const = 0;
  // The upstream's id for this connection (from the handshake's HELLO reply); -1 when unknown.
  virtual int64_t upstreamId() const = 0;
  // Finds out upstreamId() when the handshake did not tell it (a quiet one), in the background;
  // ask again later.
  virtual void learnId() {}
  virtual LinkMode mode() const = 0;
  // When the request at the head of the link became the head (worker clock, ns); 0 when nothing
  // is waiting. A head older than Redis's busy threshold means Redis is busy with it (a script),
  // or held (CLIENT PAUSE): new clients go to another link.
  virtual uint64_t headSinceNs() const = 0;
  // Bytes queued to be sent to Redis, not yet taken by the kernel.
  virtual size_t queuedBytes() const = 0;
  // A command that leaves connection state was sent on it (RequestShape::leaves_state), or its
  // owner left while holding state: it must be RESET before another owner gets it.
  virtual void markStateful() = 0;
  // Its handshake sends nothing (a plain RESP2 pinned link without AUTH, in db 0): replacing it
  // with a new connection is invisible to MONITOR and SLOWLOG, where a RESET is not.
  virtual bool quietHandshake() const = 0;
  virtual bool stateful() const = 0;
  // Its owner's client is not reading its replies: stop reading from Redis, so Redis buffers for
  // it as it would for a direct client (and applies its client-output-buffer-limit). Only for
  // links one client owns.
  virtual void pauseReading(bool paused) = 0;

  // One request expecting exactly one reply frame, delivered to `slot` (nullptr: read, dropped).
  // `blocking`: may wait for data (BLPOP...), so the request timeout does not apply.
  virtual void send(std::string_view raw, ReplySlot* slot, bool blocking) = 0;
  // `count` complete commands whose replies are read and dropped (TTL follow-ups).
  virtual void sendDropped(std::string_view raw, uint32_t count) = 0;
  // The request that starts a stream (SUBSCRIBE, MONITOR, CLIENT TRACKING): from now on every
  // frame goes to the owner. Later requests of the owner use sendStreaming.
  virtual void startStreaming(std::string_view raw) = 0;
  virtual void sendStreaming(std::string_view raw) = 0;
  // The owner sent RESET while streaming, then PING <token>: the answer to that PING (a plain
  // bulk <token>, since RESET left the connection unsubscribed, in RESP2, with replies on) ends
  // the stream (LinkOwner::onStreamEnded) and is not passed on. Whatever came before it, RESET's
  // own "+RESET" included (unless CLIENT REPLY SKIP dropped it), goes to the owner.
  virtual void expectStreamReset(std::string_view token) = 0;
  // SYNC/PSYNC: after the handshake, bytes flow both ways unframed.
  virtual void startRaw(std::string_view raw) = 0;
  virtual void sendRaw(std::string_view bytes) = 0;
  // The protocol this link's replies use (HELLO sent on it by the router).
  virtual void setProto(int proto) = 0;

  // Pool side.
  virtual void setOwner(LinkOwner* owner) = 0;
  virtual LinkOwner* owner() const = 0;
  // Sends RESET and the handshake again (HELLO, AUTH, SETNAME, SELECT) and checks every reply;
  // the pool hears LinkPool::onResetDone when they are all in.
  virtual void beginReset() = 0;
  // Closes for good; in-flight requests get an error; the link frees itself later.
  virtual void close(std::string_view cause) = 0;
};

// The links of one upstream identity (user) to one node: shared links for stateless commands
// and a pool of pinned ones.
class LinkPool {
public:
  // A shared link for `proto` that will accept a request, or nullptr with *cause (upstream down).
  virtual UpstreamLink* shared(int proto, std::string* cause) = 0;
  // True if a request queued on `link` now would wait behind a head older than Redis's busy
  // threshold: a client with nothing in flight there is better served by another link.
  virtual bool stuck(const UpstreamLink* link) const = 0;
  // A link of `owner`'s alone. nullptr with *cause if none can be had.
  virtual UpstreamLink* acquire(int proto, LinkOwner* owner, std::string* cause) = 0;
  // The owner is done with `link`: pooled once proven clean, else closed.
  virtual void release(UpstreamLink* link) = 0;

protected:
  ~LinkPool() = default;
};

// Every node's LinkPool of one identity, as the worker's current topology has them.
class LinkPools {
public:
  // kAnyNode -> the node keyless requests go to; kNoNode when the topology has none.
  virtual NodeId resolve(NodeId node) const = 0;
  // The pool of `node` (resolved), or nullptr with *cause (no such node in the topology now).
  virtual LinkPool* pool(NodeId node, std::string* cause) = 0;

protected:
  ~LinkPools() = default;
};

}  // namespace kw

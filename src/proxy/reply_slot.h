// A ReplySlot is one request's place in its session's reply FIFO. Replies leave a session strictly
// in slot order, whatever order they complete in.
//
// Ownership: the session owns its slots. A slot handed to an upstream connection is also
// referenced by that connection's in-flight queue; if the client goes away first, the session
// clears `owner` and forgets the slot, and the connection frees it when the reply (or the
// failure) arrives. So every slot has exactly one owner at any time: `owner` when set, else the
// upstream in-flight queue.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kw {

struct ReplySlot;
class RequestStage;
class UpstreamLink;

// Who a slot's reply goes to: a client session, or one of keywarden's own upstream clients
// (upstream_client.h).
class SlotOwner {
public:
  virtual void complete(ReplySlot* slot, std::string_view bytes) = 0;
  // A request stage's retry (request_stage.h): `raw` is sent again for `slot`, behind
  // `preload` (its reply dropped) when not empty. False if no link can take it.
  virtual bool resend(ReplySlot*, std::string_view /*preload*/, std::string_view /*raw*/) {
    return false;
  }
  // A large bulk reply is arriving: true if the owner takes it in parts as they come (the slot's
  // reply is the next one the client gets and nothing needs it whole), so it is never held whole
  // in keywarden. Then every part goes to streamPart() in order, the last with `last` set, which
  // completes the slot.
  virtual bool beginStreamedReply(ReplySlot*) { return false; }
  virtual void streamPart(ReplySlot*, std::string_view /*part*/, bool /*last*/) {}
  // The connection failed after part of a streamed reply was passed on: the client holds a
  // partial reply and cannot be answered correctly any more.
  virtual void abortStreamedReply(ReplySlot*) {}

protected:
  ~SlotOwner() = default;
};

// What the session does when the slot's reply is delivered (state that depends on the reply).
enum class SlotEffect : uint8_t {
  kNone,
  kSelect,      // +OK: the session's db becomes `arg`
  kStream,      // streaming (pub/sub, MONITOR, tracking, SYNC): the slot stays at the head
  kInfoMerge,   // upstream INFO text: the proxy's own sections go in front of it
  kExecAbort,   // EXEC after a refused queued command: the upstream DISCARD's +OK becomes EXECABORT
  kExec,        // EXEC: SELECTs queued in the transaction (in `aux`) change the session's db
  kFilterScan,  // SCAN reply: keys the user may not read are removed
  kUpstreamAuth,  // AUTH checked by the upstream: +OK moves the client to that identity (`aux`)
  kHelloAuth,     // HELLO ... AUTH checked by the upstream: +OK becomes HELLO's reply
  kStage,         // forwarded by a request stage: `stage` sees the reply first (request_stage.h)
  kThrottle,      // CL.THROTTLE's FCALL/EVALSHA reply (ratelimit_gate.cc: reload, fallback)
};

struct ReplySlot {
  ReplySlot* next = nullptr;
  SlotOwner* owner = nullptr;
  RequestStage* stage = nullptr;  // kStage: the stage that forwarded the request
  uint64_t tag = 0;               // kStage: the stage's own reference for this request
  std::string reply;  // complete reply bytes, kept only while an earlier slot is still pending
  uint64_t start_ns = 0;
  int64_t arg = 0;
  SlotEffect effect = SlotEffect::kNone;
  bool done = false;
  bool suppress = false;         // CLIENT REPLY OFF/SKIP: the reply is dropped, not sent
  bool upstream = false;         // sent (or waiting to be sent) upstream, reply not yet in
  bool slot_local = false;       // routed as touching one hash slot (router.h, Destination)
  UpstreamLink* lane = nullptr;  // the link it was sent on (the router's count of replies owed)
  bool external = false;         // completed later by another worker's answer (admin queries)
  uint16_t cmd = 0;              // command table row, for metrics
  uint32_t ns = UINT32_MAX;      // counter id of the first key's namespace (metrics, slow log)
  uint8_t refusal = 0;           // Outcome of a refusal the proxy answered, 0 (kOk) otherwise
  std::string request;           // the request (cut short), kept only for the slow log
  std::string aux;               // per-effect data (INFO: the proxy's sections)
  // Cluster mode: the request's bytes and hash slot, to send it again where a MOVED / ASK /
  // TRYAGAIN says (cluster_dispatch.cc); `redirects` counts how often it was.
  std::string resend;
  uint16_t hash_slot = kNoHashSlot;
  uint8_t redirects = 0;
  bool own_link = false;  // sent as a request that needs a link of its own (a blocking one)
  static constexpr uint16_t kNoHashSlot = 0xffff;
};

// Per-worker free list, so steady-state requests allocate nothing.
class SlotPool {
public:
  ~SlotPool() {
    for (ReplySlot* s : free_)
      delete s;
  }
  ReplySlot* get() {
    if (free_.empty())
      return new ReplySlot();
    ReplySlot* s = free_.back();
    free_.pop_back();
    return s;
  }
  void put(ReplySlot* s) {
    // A slot that carried a huge reply should not pin that memory forever.
    if (s->reply.capacity() > kMaxKeptCapacity || s->request.capacity() > kMaxKeptCapacity ||
        s->resend.capacity() > kMaxKeptCapacity || free_.size() >= kMaxFree) {
      delete s;
      return;
    }
    s->reply.clear();
    s->next = nullptr;
    s->owner = nullptr;
    s->stage = nullptr;
    s->tag = 0;
    s->arg = 0;
    s->effect = SlotEffect::kNone;
    s->done = false;
    s->suppress = false;
    s->upstream = false;
    s->slot_local = false;
    s->lane = nullptr;
    s->external = false;
    s->cmd = 0;
    s->ns = UINT32_MAX;
    s->refusal = 0;
    s->request.clear();
    s->aux.clear();
    s->resend.clear();
    s->hash_slot = ReplySlot::kNoHashSlot;
    s->redirects = 0;
    s->own_link = false;
    free_.push_back(s);
  }

private:
  static constexpr size_t kMaxKeptCapacity = 16 * 1024;
  static constexpr size_t kMaxFree = 4096;
  std::vector<ReplySlot*> free_;
};

}  // namespace kw

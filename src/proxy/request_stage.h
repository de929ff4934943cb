// A stage of the request path between the policy gates and routing: the near cache, the token
// blacklist, rate limiting, read-through. Each feature is a RequestStage in its own folder
// (src/cache/, src/ratelimit/, src/pg/...), added by the feature (feature.h) to each worker; the
// session only calls the chain, in the order the worker built it (Worker::stages()):
//
//   auth -> access -> feature gates (Worker::gates()) -> TTL -> stage 1 -> stage 2 -> ... -> route
//
// A feature gate (the protective rate limits) is a RequestStage that only lets a request continue
// or refuses it, and runs right after the access check, for every request, a subscribed client's
// included.
//
// A stage looks at the request through StageRequest and either lets it continue, or answers it,
// or sends something upstream in its place and sees the reply before the client does, or holds
// the request's slot to complete it later (asynchronous work: PostgreSQL, a refill). Replies still
// leave in request order: the slot keeps its place in the client's FIFO whatever the stage does.
// Stages are per worker (their state belongs to one loop); anything shared between workers is a
// clearly named thread-safe structure of the feature's own.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace kw {

struct CommandInfo;
struct CompiledUser;
struct ReplySlot;
class RequestStage;

// What a gate keeps per client between requests (StageRequest::attachment).
class StageAttachment {
public:
  virtual ~StageAttachment() = default;
};

// The request being dispatched, as a stage sees it, and what the stage may do with it. Session
// implements it; stage unit tests fake it.
class StageRequest {
public:
  // The request.
  virtual std::span<const std::string_view> args() const = 0;
  virtual std::string_view raw() const = 0;        // as it will be forwarded (after TTL rewriting)
  virtual const CommandInfo* command() const = 0;  // nullptr: unknown command
  // Namespace id of the first key (Resolution::kNone when it has none or is in no namespace).
  virtual uint32_t firstKeyNamespace() const = 0;

  // The client.
  virtual int proto() const = 0;
  // True when nothing about the client's connection state changes what a key read returns:
  // configured db, not in MULTI or WATCH, no pinned or streaming connection, keywarden's own
  // upstream identity (not an ACL user the client AUTHed as upstream). Caches answer only then.
  virtual bool plainState() const = 0;
  virtual bool inMulti() const = 0;
  virtual const CompiledUser* user() const = 0;  // nullptr before AUTH
  virtual std::string_view clientAddr() const = 0;
  // The namespace of every key of the request (policy namespace ids, Resolution::kNone for a key
  // in none), in key order, resolved once for every gate.
  virtual std::span<const uint32_t> keyNamespaces() = 0;
  // One object per client for a gate's state between requests (one gate uses it: the protective
  // rate limits).
  virtual std::unique_ptr<StageAttachment>& attachment() = 0;

  // What the stage does. At most one per request; none means the request continues.
  // Answers with complete RESP bytes.
  virtual void answer(std::string_view reply) = 0;
  // Refuses with an error (without "-" and CRLF); inside MULTI it makes EXEC abort, like any
  // refusal of the proxy.
  virtual void refuse(std::string_view error) = 0;
  // The same for a rate limit (counted as refused_ratelimit; `ns`: the limited namespace, whose
  // counters take the refusal, or Resolution::kNone).
  virtual void refuseRateLimited(std::string_view error, uint32_t ns) = 0;
  // Sends `raw` (one request, one reply frame) upstream in the request's place; the reply goes to
  // stage->onReply(tag, ...) before the client sees anything. Returns the request's slot (the
  // stage may keep data for onReply in slot->aux); nullptr if no upstream link can take it
  // (nothing was sent, nothing answered: the stage decides, e.g. a local fallback).
  virtual ReplySlot* forward(std::string_view raw, RequestStage* stage, uint64_t tag) = 0;
  // The request's slot, to complete later with Session::deliver(worker, slot, bytes). The slot
  // keeps its place in the FIFO; if the client leaves meanwhile, slot->owner becomes null and
  // deliver frees it.
  virtual ReplySlot* hold() = 0;

protected:
  ~StageRequest() = default;
};

// A stage that answers reads of keys Redis has no value for (read-through from PostgreSQL). A
// stage earlier in the chain that forwards such a read itself (the near cache) hands the miss
// over, so the client gets the filled value and not Redis's nil.
class MissFiller {
public:
  // Takes `slot` and returns true when `key`, of the namespace with counter id `ns_counter`, is
  // one this stage fills; the slot is then completed later with Session::deliver.
  // redis_answered: false when the read got -UPSTREAMDOWN instead of an answer.
  virtual bool takeMiss(ReplySlot* slot, int proto, uint32_t ns_counter, std::string_view key,
                        bool redis_answered) = 0;

protected:
  ~MissFiller() = default;
};

class RequestStage {
public:
  virtual ~RequestStage() = default;

  enum class Verdict : uint8_t { kContinue, kDone };
  // kDone when the stage answered, refused, forwarded or held the request.
  virtual Verdict onRequest(StageRequest& req) = 0;

  // The reply to a request this stage forwarded. Returns what the client gets: `reply` itself,
  // or bytes the stage wrote into *scratch. Setting *kept takes the slot instead: the stage
  // completes it later with Session::deliver, or has sent it again with slot->owner->resend()
  // (a retry: the reply comes back here); the return value is then ignored.
  virtual std::string_view onReply(uint64_t tag, ReplySlot* slot, std::string_view reply,
                                   std::string* scratch, bool* kept) = 0;
};

}  // namespace kw

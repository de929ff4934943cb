// One client connection. The request path, in the order the code runs it:
//
//   uv_read -> onRead -> processInput -> RequestDecoder::next (one request at a time)
//     -> dispatch: command table lookup
//          connection commands (PING, HELLO, CLIENT, SELECT, RESET, QUIT...) -> local reply
//          state commands (MULTI, WATCH, blocking, SUBSCRIBE, MONITOR) -> pinned connection
//          everything else -> the session's shared upstream connection, pipelined
//     -> a ReplySlot takes the next place in the FIFO
//   upstream reply -> Session::deliver(slot) -> emitted at once if the slot is the head, else kept
//   worker uv_check -> flush(): one write per session per loop turn
//
// Ordering gate: a session's requests may only run on one upstream connection at a time. When
// the target changes (pinning, unpinning, protocol switch) while requests are still in flight on
// the previous one, new requests wait in `deferred_` until those replies are in, so a client
// always reads its own writes.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "policy/access_check.h"
#include "policy/ttl_policy.h"
#include "proxy/command_table.h"
#include "proxy/metrics/request_metrics.h"
#include "proxy/ratelimit_gate.h"
#include "proxy/reply_slot.h"
#include "proxy/request_decoder.h"
#include "proxy/stream_writer.h"

namespace kw {

class Worker;
class UpstreamConn;

// Metrics label index of a namespace id (Resolution::kNone -> "none").
uint32_t metricsNs(uint32_t ns);

class Session {
public:
  explicit Session(Worker* worker);

  // Accepts from `server`. On false the session has already scheduled its own deletion.
  bool accept(uv_stream_t* server);
  void close(const char* reason);
  void flush();
  void beginDrain();

  // An upstream reply for `slot` (whose owner may be gone).
  static void deliver(Worker* worker, ReplySlot* slot, std::string_view bytes);
  void onPassthroughFrame(std::string_view bytes);
  void onPassthroughEnded(UpstreamConn* conn);
  void onPinnedReplyDelivered(UpstreamConn* conn);
  void onPinnedLost(UpstreamConn* conn);
  // The worker took a new policy snapshot: look the user up again.
  void onPolicyChanged();

  uint64_t id() const { return id_; }
  uint64_t lastActiveMs() const { return last_active_ms_; }
  uint64_t createdMs() const { return created_ms_; }
  bool closed() const { return closed_; }
  bool blockedOrSubscribed() const;
  std::string infoLine() const;  // CLIENT INFO / CLIENT LIST format
  bool dirty_listed = false;

private:
  struct Deferred {
    std::string raw;
    ReplySlot* slot;  // nullptr: untracked (passthrough)
    UpstreamConn* target;
    bool blocking;
    bool tracked;
    uint32_t dropped;  // > 0: that many follow-up commands whose replies are dropped
  };

  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onClosed(uv_handle_t* h);
  static void onWriteDone(void* owner, int status);

  void processInput(std::string_view data);
  size_t processBuffer(std::string_view data);
  void dispatch(const DecodedRequest& req);
  void route(const DecodedRequest& req, const CommandInfo* cmd);
  void dispatchPassthrough(const DecodedRequest& req, const CommandInfo* cmd);
  bool dispatchLocal(const DecodedRequest& req, const CommandInfo& cmd);
  bool dispatchTransaction(const DecodedRequest& req, const CommandInfo& cmd);

  // The policy chain (policy_gates.cc). Each returns false when it answered the request.
  bool gateAuth(const DecodedRequest& req, const CommandInfo* cmd);
  bool gateAccess(const DecodedRequest& req, const CommandInfo* cmd);
  bool gateTtl(const DecodedRequest& req, const CommandInfo* cmd, DecodedRequest* rewritten,
               const DecodedRequest** effective);
  uint32_t firstKeyNs(const DecodedRequest& req, const CommandInfo& cmd);
  // Rate limiting (ratelimit_gate.cc; the hooks are listed in ratelimit_gate.h).
  bool gateRateLimit(const DecodedRequest& req, const CommandInfo* cmd);
  void routeThrottle(const DecodedRequest& req, const CommandInfo& cmd);
  bool throttleReply(ReplySlot* slot, std::string_view* bytes, std::string* transformed);
  void cmdKeywardenRateLimit(const DecodedRequest& req);
  void sendFollowups(UpstreamConn* target);
  void sendDropped(UpstreamConn* target, std::string_view raw, uint32_t count);
  bool authenticate(std::string_view name, std::string_view password, bool one_arg_form,
                    std::string* err);
  std::string filterScanReply(std::string_view reply) const;

  // Local replies (local_commands.cc).
  void cmdPing(const DecodedRequest& req);
  void cmdEcho(const DecodedRequest& req);
  void cmdHello(const DecodedRequest& req);
  void cmdAuth(const DecodedRequest& req);
  void cmdClient(const DecodedRequest& req);
  void cmdSelect(const DecodedRequest& req);
  void cmdReset();
  void resetConnectionState();  // what RESET clears, as Redis does it
  void cmdQuit();
  void cmdUnsubscribeLocal(const DecodedRequest& req);
  // Operator commands (admin_commands.cc).
  void cmdInfo(const DecodedRequest& req);
  std::string proxyInfo(std::string_view section) const;  // "" = every proxy section
  std::string mergeInfo(ReplySlot* slot, std::string_view upstream_reply);
  void appendReadStats(std::string* out) const;
  void appendNamespaceInfo(std::string* out) const;
  std::string namespacesReply() const;
  void cmdSlowlog(const DecodedRequest& req);
  void cmdClientList(const DecodedRequest& req);
  void cmdClientKill(const DecodedRequest& req);
  void cmdKeywarden(const DecodedRequest& req);
  void recordCompletion(ReplySlot* slot, std::string_view bytes);
  void recordMetrics(const ReplySlot* slot, std::string_view bytes, uint64_t latency_ns);
  void recordSlow(const ReplySlot* slot, uint64_t latency_ns);

  void wrongArity(std::string_view name);

  // Reply plumbing.
  ReplySlot* newSlot();
  static std::string redactedRequest(std::string_view raw);
  void replyLocal(std::string_view bytes);  // complete reply bytes for a new slot
  void replyError(std::string_view msg);    // "-<msg>\r\n"
  void complete(ReplySlot* slot, std::string_view bytes);
  void emit(std::string_view bytes);
  void drainDone();
  void popHead();
  void checkOutputLimit();
  void markDirty();

  // Upstream routing.
  // Returns the slot waiting for the reply, or nullptr if the request was answered with an error.
  ReplySlot* forward(const DecodedRequest& req, const CommandInfo* cmd,
                     SlotEffect effect = SlotEffect::kNone, int64_t arg = 0);
  void sendTo(UpstreamConn* target, std::string_view raw, ReplySlot* slot, bool blocking,
              bool tracked = true);
  void sendDeferred();
  UpstreamConn* sharedConn(std::string* cause);
  UpstreamConn* pin();
  void maybeReleasePin();
  bool isBlocking(const DecodedRequest& req, const CommandInfo* cmd) const;

  Worker* worker_;
  uv_tcp_t tcp_{};
  StreamWriter writer_;
  uint64_t id_ = 0;
  std::string addr_;
  std::string laddr_;
  std::string inbuf_;
  DecodedRequest decoded_;  // the request being dispatched; reused so decoding allocates nothing

  // Reply FIFO (intrusive, oldest first).
  ReplySlot* head_ = nullptr;
  ReplySlot* tail_ = nullptr;
  size_t slot_count_ = 0;
  size_t stored_bytes_ = 0;  // reply bytes held in slots behind a pending head
  ReplySlot* passthrough_slot_ = nullptr;

  // Routing.
  UpstreamConn* route_conn_ = nullptr;  // where this session's in-flight requests are
  UpstreamConn* shared_conn_ = nullptr;
  UpstreamConn* pinned_ = nullptr;
  uint32_t upstream_inflight_ = 0;
  std::deque<Deferred> deferred_;

  // Connection state, as Redis keeps it per client.
  int proto_ = 2;
  int db_ = 0;
  bool in_multi_ = false;
  bool multi_dirty_ = false;  // a queued command was refused: EXEC must abort
  bool watching_ = false;
  bool passthrough_ = false;
  const CompiledUser* user_ = nullptr;  // points into the worker's policy snapshot; null: NOAUTH
  std::string user_name_;
  bool explicit_auth_ = false;  // AUTH/HELLO AUTH succeeded (else: the configured default user)
  enum class ReplyMode : uint8_t { kOn, kOff, kSkipNext, kSkipThis } reply_mode_ = ReplyMode::kOn;
  std::string name_;
  std::string lib_name_;
  std::string lib_ver_;
  std::string last_command_;
  std::string_view current_raw_;  // the request being dispatched (valid during dispatch only)
  uint16_t current_cmd_ = 0;
  uint32_t current_ns_ = UINT32_MAX;
  Outcome current_outcome_ = Outcome::kOk;  // for a refusal answered by the proxy
  bool filter_scan_ = false;
  bool redact_ = false;
  bool access_checked_ = false;  // access_scratch_ holds this command's resolved keys

  // Policy scratch space, reused so the steady state allocates nothing.
  PolicyScratch access_scratch_;
  TtlScratch ttl_scratch_;
  std::string rewrite_buf_;
  DecodedRequest rewritten_;      // the request as the TTL stage rewrote it (views into the above)
  std::string followups_;         // EXPIRE ... NX commands to send right after the current request
  uint32_t followup_count_ = 0;   // commands in followups_
  uint32_t post_exec_count_ = 0;  // commands in post_exec_
  std::string post_exec_;         // follow-ups of commands queued in MULTI: sent right after EXEC
  RateLimitSessionState rate_limit_;

  uint64_t created_ms_ = 0;
  uint64_t last_active_ms_ = 0;
  bool closed_ = false;
  bool close_after_flush_ = false;
  bool reading_ = false;
  bool admitted_ = false;
  bool over_limit_ = false;      // reply buffer limit exceeded: closed at the next flush
  bool awaiting_reset_ = false;  // RESET sent in passthrough: hold later requests until it ends
};

}  // namespace kw

// One client connection. The request path, in the order the code runs it:
//
//   uv_read -> onRead -> processInput -> RequestDecoder::next (one request at a time)
//     (a TLS client: onRead -> onTlsRead, ciphertext through its ClientTls, then the plaintext
//      -> onPlaintext -> processInput; session_tls.cc, client_tls.h)
//     -> dispatch: command table lookup, arity
//     -> policy chain (policy_gates.cc): gateAuth -> gateAccess -> gateTtl
//     -> route: the reply-count rule (request_shape.h) decides
//          kLocal  connection state the proxy emulates (local_commands.cc), operator commands
//                  (admin_commands.cc): answered here, or forwarded after checking state
//          kStream SUBSCRIBE family, MONITOR, CLIENT TRACKING: a pinned link that streams
//          kRaw    SYNC / PSYNC: a pinned link, bytes both ways
//          kOne    forwarded: the Router (router.h) picks the link
//     -> a ReplySlot takes the next place in the FIFO
//   upstream reply -> Session::deliver(slot) -> emitted at once if the slot is the head, else kept
//   worker uv_check -> flush(): one write per session per loop turn (a TLS client: its
//     StreamWriter's bytes encrypted by ClientTls::flush as the socket takes them)
//
// Which upstream link a request goes to, pinning, the ordering gate and the pinned pool's
// clean-state rule are the Router's; the session keeps the client socket, the reply FIFO and the
// connection state Redis keeps per client (protocol, db, name, user, transaction, reply mode).
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/access_check.h"
#include "policy/ttl_policy.h"
#include "proxy/command_table.h"
#include "proxy/dispatch_scratch.h"
#include "proxy/feature.h"
#include "proxy/in_buffer.h"
#include "proxy/metrics/request_metrics.h"
#include "proxy/reply_slot.h"
#include "proxy/request_decoder.h"
#include "proxy/request_shape.h"
#include "proxy/request_stage.h"
#include "proxy/router.h"
#include "proxy/stream_writer.h"

namespace kw {

namespace cluster {
struct SplitPlan;
struct FanOut;
}  // namespace cluster

class Worker;
class IdentityPools;
class UpstreamPool;
class ClientTls;
class TlsContext;
enum class ClientType : uint8_t;

// Metrics label index of a namespace counter id (CompiledPolicy::counterId; kNone -> "none").
uint32_t metricsNs(uint32_t counter_id);

class Session final : public SlotOwner, private RouteClient, private StageRequest {
public:
  explicit Session(Worker* worker);
  ~Session();

  // Accepts from `server` (a TCP or a Unix socket listener); `tls`: the context of the TLS
  // listener it came from, null for plaintext. On false the session has already scheduled its
  // own deletion.
  bool accept(uv_stream_t* server, std::shared_ptr<const TlsContext> tls);
  void close(const char* reason);
  void flush();
  void beginDrain();

  // An upstream reply for `slot` (whose owner may be gone).
  static void deliver(Worker* worker, ReplySlot* slot, std::string_view bytes);
  // SlotOwner: the reply for one of this client's slots.
  void complete(ReplySlot* slot, std::string_view bytes) override;
  // SlotOwner: a large reply passed on in parts as it arrives (upstream_conn.h).
  bool beginStreamedReply(ReplySlot* slot) override;
  void streamPart(ReplySlot* slot, std::string_view part, bool last) override;
  void abortStreamedReply(ReplySlot* slot) override;
  // The worker: an upstream link's send queue drained; this session was waiting for room in its
  // link's (waitForSendRoom).
  void onSendRoom();
  // The worker took a new policy snapshot: look the user up again.
  void onPolicyChanged();

  uint64_t id() const { return id_; }
  uint64_t lastActiveMs() const { return last_active_ms_; }
  uint64_t createdMs() const { return created_ms_; }
  bool closed() const { return closed_; }
  bool blockedOrSubscribed() const;
  // Over the reply buffer cap and no byte taken by the client for `timeout_ms`: it is not
  // reading its replies (the worker's housekeeping closes it).
  bool stalledOnOutput(uint64_t now_ms, uint64_t timeout_ms) const;
  // Once a second, from the worker.
  void onHousekeeping(uint64_t now_ms);
  // A TLS client that has not completed its handshake in time (the worker closes it with
  // failTlsHandshakeTimeout, session_tls.cc).
  bool tlsHandshakeOverdue(uint64_t now_ms) const;
  void failTlsHandshakeTimeout();
  bool subscribed() const { return router_.streaming(); }
  // The upstream id of this client's pinned link (-1: none), for CLIENT UNBLOCK / REDIRECT.
  int64_t pinnedUpstreamId() const;
  // Redis's id of this client's own link, for CLIENT UNBLOCK and TRACKING REDIRECT, which name
  // clients by keywarden's ids. -1: none. With `claim` (a REDIRECT target), a client without a link
  // of its own is given one and keeps it (as Redis, any existing client can be the target).
  // *pending: the link's id is being learned; ask again shortly.
  int64_t linkIdFor(bool claim, bool* pending);
  // The node of the pinned link linkIdFor() named (kAnyNode without one).
  NodeId linkNode() const { return router_.pinned() ? router_.pinnedNode() : kAnyNode; }
  // CLIENT INFO / CLIENT LIST format. `qbuf`: the query buffer figure of the client running the
  // command (the input it is being read from, as Redis shows it), or -1 for any other client.
  std::string infoLine(int64_t qbuf = -1) const;
  // The size of the input the current request is being decoded from (0 outside dispatch).
  uint32_t inputInDispatch() const { return dispatch_input_; }
  bool dirty_listed = false;

private:
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onClosed(uv_handle_t* h);
  static void onWriteDone(void* owner, int status);
  // Bytes from the client, as read or as decrypted (the rest of onRead for both transports).
  void onPlaintext(std::string_view data);

  // TLS (session_tls.cc): the transport in tls_, and what the session does on its events.
  void startTls(std::shared_ptr<const TlsContext> context);
  void onTlsRead(std::string_view ciphertext);
  void onTlsEstablished();
  void failTls();
  // With a verified client certificate that names a [[users]] cert_subject: that user, as
  // if it had sent AUTH (at the handshake, and again after RESET). False when none applies.
  bool applyCertificateUser();
  // Nothing owed is waiting in a send buffer (plaintext, or ciphertext for a TLS client).
  bool outputIdle() const;
  // A client of the Unix socket listener (its address is the socket's path, as Redis shows it).
  bool unixSocket() const { return !addr_.empty() && addr_[0] == '/'; }
  // RouteClient / LinkOwner.
  void onStreamBytes(std::string_view bytes) override;
  void onStreamEnded(UpstreamLink* link) override;
  void onLinkReply(UpstreamLink* link) override;
  void onLinkLost(UpstreamLink* link) override;
  void failUnsent(ReplySlot* slot, std::string_view cause) override;
  uint64_t ownerId() const override { return id_; }

  // StageRequest: the request as the stages (request_stage.h) see it.
  bool runStages(const DecodedRequest& req, const CommandInfo* cmd);
  std::span<const std::string_view> args() const override { return stage_req_->args; }
  std::string_view raw() const override { return stage_req_->raw; }
  const CommandInfo* command() const override { return stage_cmd_; }
  uint32_t firstKeyNamespace() const override { return current_ns_; }
  int proto() const override { return proto_; }
  bool plainState() const override;
  bool inMulti() const override { return in_multi_; }
  const CompiledUser* user() const override { return user_; }
  std::string_view clientAddr() const override { return addr_; }
  std::span<const uint32_t> keyNamespaces() override;
  std::unique_ptr<StageAttachment>& attachment() override { return attachment_; }
  void answer(std::string_view reply) override;
  void refuse(std::string_view error) override;
  void refuseRateLimited(std::string_view error, uint32_t ns) override;
  ReplySlot* forward(std::string_view raw, RequestStage* stage, uint64_t tag) override;
  bool resend(ReplySlot* slot, std::string_view preload, std::string_view raw) override;
  ReplySlot* hold() override;
  ReplySlot* stageSlot();

  void processInput(std::string_view data);
  size_t processBuffer(std::string_view data);
  void dispatch(const DecodedRequest& req);
  void route(const DecodedRequest& req, const CommandInfo* cmd);
  void dispatchStreaming(const DecodedRequest& req, const CommandInfo* cmd);
  void dispatchLocal(const DecodedRequest& req, const CommandInfo& cmd);
  void noteConfigSet(const DecodedRequest& req);
  void dispatchTransaction(const DecodedRequest& req, const CommandInfo& cmd);
  void startStream(const DecodedRequest& req);
  void startRaw(const DecodedRequest& req);

  // Cluster mode (cluster_dispatch.cc).
  friend class MultiPart;
  bool clusterMode() const;
  Destination slotDestination(uint16_t hash_slot) const;
  // Before the stages: sets dest_; true when the request was answered, split or fanned out.
  // Cluster: the keys (or shard channels) of a command sent on this client's streaming link
  // belong to another node than the link's; *node names the link's node.
  bool streamKeysElsewhere(const DecodedRequest& req, const CommandInfo* cmd, std::string* node);
  bool routeCluster(const DecodedRequest& req, const CommandInfo* cmd);
  bool joinTransaction(uint16_t hash_slot);
  bool startPinnedTransaction();
  void queueUnpinned(std::string_view raw);
  void endClusterTransaction();
  bool clusterCommand(const DecodedRequest& req);
  void startSplit(const cluster::SplitPlan& plan);
  ReplySlot* startFanOut(const DecodedRequest& req, const cluster::FanOut& fan, SlotEffect effect);
  void startScan(const DecodedRequest& req);
  void sendPart(ReplySlot* part, std::string request, NodeId node);
  void partReplied(UpstreamLink* lane, bool slot_local);
  bool redirectPart(ReplySlot* part, std::string_view bytes, UpstreamLink* lane, bool slot_local,
                    std::string* replacement);
  void keepForResend(ReplySlot* slot, std::string_view raw, bool own_link);
  // A node's MOVED / ASK / TRYAGAIN for `slot`: true when it was sent again (or will be, or was
  // answered with an error already); false with `bytes` (or *replacement, when set) the answer.
  bool redirected(ReplySlot* slot, std::string_view bytes, UpstreamLink* lane, bool slot_local,
                  std::string* replacement);
  void retryLater(ReplySlot* slot, UpstreamLink* lane, bool slot_local, uint64_t ms);
  static void onRetryTimer(uv_timer_t* t);
  void dropRetries();
  // A request no link can take while the topology source expects a new master soon (sentinel
  // failover): instead of -UPSTREAMDOWN at once, it waits (input held behind it, so nothing of
  // this client's overtakes it) and is tried again every kTopologyRetryMs until the request
  // timeout. Only plain requests outside MULTI, with nothing pinned and nothing to follow them.
  void forwardOrWait(const DecodedRequest& req, const RequestShape& shape, SlotEffect effect);
  static void onTopologyWaitTimer(uv_timer_t* t);
  static constexpr uint64_t kTopologyRetryMs = 20;
  static constexpr size_t kTopologyWaitMax = 1u << 20;  // bytes of a request kept to wait

  // The policy chain (policy_gates.cc). Each returns false when it answered the request.
  bool gateAuth(const DecodedRequest& req, const CommandInfo* cmd);
  bool gateAccess(const DecodedRequest& req, const CommandInfo* cmd);
  bool gateTtl(const DecodedRequest& req, const CommandInfo* cmd, DecodedRequest* rewritten,
               const DecodedRequest** effective);
  uint32_t firstKeyNs(const DecodedRequest& req, const CommandInfo& cmd);
  void sendFollowups();
  // The features' gates (Worker::gates(), request_stage.h), right after gateAccess.
  bool runGates(const DecodedRequest& req, const CommandInfo* cmd);
  bool authenticate(std::string_view name, std::string_view password, bool one_arg_form,
                    std::string* err);
  std::string filterScanReply(std::string_view reply) const;

  // Local replies (local_commands.cc).
  void cmdEcho(const DecodedRequest& req);
  void cmdHello(const DecodedRequest& req);
  void cmdAuth(const DecodedRequest& req);
  bool upstreamAuth() const;  // AUTH is checked by the upstream Redis (keywarden has no users)
  void forwardAuth(std::string_view raw, SlotEffect effect, std::string aux);
  void applyUpstreamAuth(ReplySlot* slot, std::string_view reply, std::string* transformed);
  void cmdClient(const DecodedRequest& req);
  void cmdClientUnblock(const DecodedRequest& req);
  void startTrackingRedirect(const DecodedRequest& req, size_t redirect_arg);
  void streamTrackingRedirect(const DecodedRequest& req, size_t redirect_arg);
  // Sends a request prepared later than its slot was taken (CLIENT UNBLOCK's id translated).
  void sendPrepared(std::string_view raw, ReplySlot* slot, NodeId node = kAnyNode);
  void cmdSelect(const DecodedRequest& req);
  void cmdReset();
  void finishReset(ReplySlot* slot);
  void resetConnectionState();  // what RESET clears, as Redis does it
  void cmdQuit();
  void cmdUnsubscribeLocal(const DecodedRequest& req);
  void cmdReplconf(const DecodedRequest& req);
  std::string helloReply() const;
  void switchProto(int proto);
  void setPool(IdentityPools* pool);
  // Operator commands (admin_commands.cc).
  void cmdInfo(const DecodedRequest& req);
  void infoForNonAdmin(const DecodedRequest& req);
  std::string proxyInfo(std::string_view section) const;  // "" = every proxy section
  std::string mergeInfo(ReplySlot* slot, std::string_view upstream_reply);
  void appendReadStats(std::string* out) const;
  void appendNamespaceInfo(std::string* out) const;
  std::string namespacesReply() const;
  void cmdSlowlog(const DecodedRequest& req);
  void cmdClientList(const DecodedRequest& req);
  void cmdClientKill(const DecodedRequest& req);
  ClientType clientType() const;  // Redis's client class, for the TYPE filters
  void cmdKeywarden(const DecodedRequest& req);
  // A KEYWARDEN subcommand as a feature sees it (feature.h).
  class Admin final : public AdminRequest {
  public:
    Admin(Session* session, const DecodedRequest& req) : s_(session), req_(req) {}
    std::span<const std::string_view> args() const override { return req_.args; }
    int proto() const override { return s_->proto_; }
    Worker& worker() const override { return *s_->worker_; }
    void reply(std::string_view resp) override { s_->replyLocal(resp); }
    void replyError(std::string_view error) override { s_->replyError(error); }
    ReplySlot* hold() override {
      ReplySlot* slot = s_->newSlot();
      slot->external = true;
      return slot;
    }

  private:
    Session* s_;
    const DecodedRequest& req_;
  };
  void recordCompletion(ReplySlot* slot, std::string_view bytes);
  void recordMetrics(const ReplySlot* slot, std::string_view bytes, uint64_t latency_ns);
  void recordSlow(const ReplySlot* slot, uint64_t latency_ns);

  void wrongArity(std::string_view name);

  // Reply plumbing.
  ReplySlot* newSlot();
  static std::string redactedRequest(std::string_view raw);
  void replyLocal(std::string_view bytes);  // complete reply bytes for a new slot
  void replyError(std::string_view msg);    // "-<msg>\r\n"
  static bool emulatedInExec(const DecodedRequest& req);
  void queueHello(const DecodedRequest& req);
  void streamLocal(std::string_view reply);
  // CLIENT GETREDIR / TRACKINGINFO on the stream: their reply names the redirect target by
  // Redis's id, which is replaced by keywarden's.
  void streamTranslateNext();
  void translateRedirectId(std::string_view frame, std::string* out) const;
  std::string streamToken();
  void endStreamSlot();
  void applyExec(ReplySlot* slot, std::string_view* bytes, std::string* transformed);
  void applyEffect(ReplySlot* slot, std::string_view* bytes, std::string* transformed, bool* kept);
  void emit(std::string_view bytes);
  void drainDone();
  void popHead();
  void checkOutputLimit();
  // Back-pressure on the reply side: over the cap, a client on a shared link moves to a link of
  // its own (once its replies in flight are in), and on a link of its own keywarden stops reading
  // Redis for it; below the low mark both ease (releaseOutputPressure).
  void applyOutputPressure();
  void releaseOutputPressure();
  // Back-pressure on the request side: the link this client sends to has more than
  // Worker::kSendQueueHigh bytes waiting to be written; input pauses until it drains.
  void waitForSendRoom();
  void markDirty();
  // Stops reading the client until `resume_reading_` allows (QUIT, errors, back-pressure).
  void pauseReading();
  void resumeReading();
  // Closes once every reply owed has been written (QUIT, protocol error, CLIENT KILL of self).
  void closeAfterReplies();
  // Stops taking requests until a barrier clears: an upstream AUTH's reply (later requests run as
  // the user it sets), RESET waiting for replies owed by the pinned link, RESET while streaming,
  // a CLIENT TRACKING REDIRECT whose target id is being looked up.
  void holdInput();
  void maybeContinue();
  void continueInput();

  // Forwards a one-frame request. Returns the slot waiting for the reply, or nullptr if the
  // request was answered with an error (no upstream link).
  ReplySlot* forward(const DecodedRequest& req, const RequestShape& shape,
                     SlotEffect effect = SlotEffect::kNone, int64_t arg = 0);
  void replyUnavailable(const std::string& cause);
  bool sendInTransaction(std::string_view raw, ReplySlot* slot, const RequestShape& shape,
                         std::string* cause);
  // `slot` answered: no link could take the request (upstream_errors.h).
  void completeUnavailable(ReplySlot* slot, std::string_view cause);

  // Connection state most clients never set (a name, library info, an identity of their own, a
  // transaction, a stream): allocated the first time it is needed, so an idle client costs only
  // the members below it (bench/idle_clients.sh measures the total per connection).
  struct StreamLocal {  // a local reply while streaming, waiting for the echo of its token
    std::string token;
    std::string reply;
    bool translate_next = false;  // no reply of its own: marks where GETREDIR's reply starts
  };
  struct PendingRetry {  // a redirected request waiting to be sent again (retryLater)
    ReplySlot* slot;
    UpstreamLink* lane;
    uint64_t due_ms;
    bool slot_local;
  };
  struct Extras {
    std::string name;
    std::string lib_name;
    std::string lib_ver;
    std::string user_name;      // after AUTH / HELLO AUTH: looked up again on reload
    std::string upstream_user;  // the upstream ACL user AUTH moved this client to (no users here)
    char last_sub[24] = {};     // CLIENT LIST cmd=: the last command's subcommand, lower case
    // What EXEC's reply changes, by place in the transaction (applyExec): "S<index>:<db>," for a
    // SELECT, "L<index>:<argc>:(<len>:<arg>)*" for a CLIENT subcommand the proxy answers.
    std::string multi_selects;
    std::string post_exec;  // follow-ups of commands queued in MULTI: sent right after EXEC
    uint32_t post_exec_count = 0;
    std::deque<StreamLocal> stream_locals;  // see streamLocal()
    uint64_t stream_nonce = 0;  // random per session: a client cannot forge a token's echo
    uint64_t stream_seq = 0;
    uint64_t closing_since_ms = 0;
    // CLIENT TRACKING ... REDIRECT sent with Redis's id of the target: the two ids, so GETREDIR
    // and TRACKINGINFO answer with keywarden's; translate_next: the next reply frame of the
    // stream is one of those (streamTranslateNext).
    int64_t redirect_upstream_id = -1;
    uint64_t redirect_kw_id = 0;
    bool translate_next = false;
    // Cluster: keyless commands queued in a MULTI answered here, before the transaction has a
    // node; and redirected requests waiting for a pause (TRYAGAIN) to end.
    std::string txn_preamble;
    uint32_t txn_preamble_count = 0;
    std::vector<PendingRetry> retries;
    uv_timer_t* retry_timer = nullptr;
    // Sentinel: the request waiting for a new master (forwardOrWait).
    ReplySlot* wait_slot = nullptr;
    std::string wait_raw;
    RequestShape wait_shape;
    uint64_t wait_deadline_ms = 0;
    uv_timer_t* wait_timer = nullptr;
  };
  Extras& x() {
    if (!extras_)
      extras_ = std::make_unique<Extras>();
    return *extras_;
  }
  const Extras& cx() const { return extras_ ? *extras_ : kNoExtras; }
  static const Extras kNoExtras;
  // The user's name for CLIENT LIST and the slow log.
  const std::string& userName() const;
  std::string localAddr() const;  // CLIENT LIST laddr=, computed when asked

  Worker* worker_;
  DispatchScratch* scratch_;  // the worker's (dispatch_scratch.h)
  uv_tcp_t tcp_{};
  StreamWriter writer_;
  Router router_;
  IdentityPools* pool_ = nullptr;  // the upstream identity this client's commands run as
  std::unique_ptr<Extras> extras_;
  std::unique_ptr<ClientTls> tls_;  // a TLS client's transport (client_tls.h); null: plaintext
  uint64_t id_ = 0;
  std::string addr_;
  InBuffer inbuf_;         // an incomplete request, read into in place
  size_t input_need_ = 0;  // bytes that request needs at least (the decoder's hint)

  // Reply FIFO (intrusive, oldest first).
  ReplySlot* head_ = nullptr;
  ReplySlot* tail_ = nullptr;
  size_t slot_count_ = 0;
  size_t stored_bytes_ = 0;             // reply bytes held in slots behind a pending head
  ReplySlot* stream_slot_ = nullptr;    // the head while streaming: frames go out as they come
  ReplySlot* barrier_slot_ = nullptr;   // input waits for this slot's reply
  ReplySlot* reset_slot_ = nullptr;     // RESET waiting for the pinned link's owed replies
  std::string* capture_ = nullptr;      // local replies go here while applyExec computes them
  const CompiledUser* user_ = nullptr;  // points into the worker's policy snapshot; null: NOAUTH

  // The request being dispatched (valid during dispatch only).
  std::string_view current_raw_;
  Destination dest_;                           // where it goes (cluster mode: its slot's master)
  const DecodedRequest* stage_req_ = nullptr;  // what the stages see
  const CommandInfo* stage_cmd_ = nullptr;
  ReplySlot* stage_slot_ = nullptr;              // reserved by a stage's forward that found no link
  std::unique_ptr<StageAttachment> attachment_;  // a gate's per-client state

  uint64_t created_ms_ = 0;
  uint64_t last_active_ms_ = 0;
  uint64_t stalled_since_ms_ = 0;  // over the reply buffer cap with no write progress since
  uint64_t written_at_stall_ = 0;
  uint64_t slow_since_ms_ = 0;  // holding a link for not reading; under the low mark since
  uint32_t current_ns_ = UINT32_MAX;
  uint32_t multi_queued_ = 0;    // commands forwarded since MULTI
  uint32_t dispatch_input_ = 0;  // see inputInDispatch()

  // Connection state, as Redis keeps it per client.
  int proto_ = 2;
  int db_ = 0;
  uint16_t last_cmd_ = CommandTable::kUnknownIndex;  // CLIENT LIST cmd=
  uint16_t current_cmd_ = 0;
  Outcome current_outcome_ = Outcome::kOk;  // for a refusal answered by the proxy
  // kSkipThis: the next request's reply is dropped (CLIENT REPLY SKIP).
  enum class ReplyMode : uint8_t { kOn, kOff, kSkipThis } reply_mode_ = ReplyMode::kOn;
  bool in_multi_ = false;
  bool multi_dirty_ = false;  // a queued command was refused: EXEC must abort
  // Cluster: MULTI answered here, no keyed command yet to say which node runs the transaction.
  bool txn_unpinned_ = false;
  uint16_t txn_slot_ = ReplySlot::kNoHashSlot;  // the slot a transaction / WATCH keeps to
  bool watching_ = false;
  bool raw_ = false;            // SYNC/PSYNC: client bytes go upstream as they come
  bool explicit_auth_ = false;  // AUTH/HELLO AUTH succeeded (else: the configured default user)
  bool stream_multi_ = false;   // the client sent MULTI on its streaming link
  bool filter_scan_ = false;
  bool redact_ = false;
  bool access_checked_ = false;  // scratch_->access holds this command's resolved keys
  bool closed_ = false;
  bool closing_ = false;  // QUIT or a protocol error: close once everything owed is written
  bool reading_ = false;
  bool paused_for_output_ = false;  // over the reply buffer cap: input paused (back-pressure)
  bool paused_for_send_ = false;    // the upstream send queue is full: input paused
  bool resume_input_ = false;       // input may go on: done at the next flush
  bool admitted_ = false;
  bool input_held_ = false;             // see holdInput()
  bool continue_input_ = false;         // the barrier cleared: input resumes at the next flush
  bool stream_reset_pending_ = false;   // RESET sent while streaming: "+RESET" not yet back
  bool stream_lookup_pending_ = false;  // CLIENT TRACKING REDIRECT while streaming: id lookup

  static constexpr uint64_t kSlowReaderReleaseMs = 2000;
  static constexpr uint64_t kStreamCloseGraceMs = 2000;
  static constexpr size_t kMaxStreamLocals = 1024;
};

}  // namespace kw

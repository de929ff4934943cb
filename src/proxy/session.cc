#include "proxy/session.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>

#include "common/ascii.h"
#include "common/log.h"
#include "proxy/client_tls.h"
#include "proxy/reply_scanner.h"
#include "proxy/resp_writer.h"
#include "proxy/shared_state.h"
#include "proxy/upstream_errors.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace kw {
namespace {

// Element `n` of the array reply `reply` (EXEC's reply to a queued SELECT or HELLO), framed
// with the reply scanner so nested values are skipped whole; false when there is none.
bool nthElement(std::string_view reply, size_t n, std::string_view* bytes, char* type) {
  size_t pos = reply.find("\r\n");
  if (pos == std::string_view::npos)
    return false;
  pos += 2;
  for (size_t i = 0; pos < reply.size(); ++i) {
    ReplyScanner scanner;
    ReplyScanner::Frame frame;
    if (scanner.scan(reply.substr(pos), &frame) != ReplyScanner::Status::kComplete)
      return false;
    if (i == n) {
      *bytes = reply.substr(pos, frame.length);
      *type = frame.type;
      return true;
    }
    pos += frame.length;
  }
  return false;
}

std::string formatAddr(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    uv_ip4_name(a, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    uv_ip6_name(a, host, sizeof host);
    port = ntohs(a->sin6_port);
  } else if (ss.ss_family == AF_UNIX) {
    // As Redis shows a Unix socket client: the socket's path, port 0.
    const auto* a = reinterpret_cast<const sockaddr_un*>(&ss);
    return std::string(a->sun_path, strnlen(a->sun_path, sizeof a->sun_path)) + ":0";
  }
  return std::string(host) + ":" + std::to_string(port);
}

}  // namespace

const Session::Extras Session::kNoExtras{};

Session::Session(Worker* worker) : worker_(worker), scratch_(&worker->scratch()), router_(this) {
  id_ = worker_->shared().nextClientId();
  user_ = worker_->policy().defaultUser();
  db_ = worker_->config().upstream.db;
  created_ms_ = last_active_ms_ = worker_->nowMs();
  setPool(&worker_->upstreams().main());
}

Session::~Session() {
  setPool(nullptr);
}

void Session::setPool(IdentityPools* pool) {
  if (pool == pool_)
    return;
  if (pool_)
    pool_->removeUser();
  pool_ = pool;
  if (pool_)
    pool_->addUser();
  router_.setPool(pool_);
}

const std::string& Session::userName() const {
  static const std::string kNone;
  if (explicit_auth_)
    return cx().user_name;
  return user_ ? user_->name : kNone;
}

std::string Session::localAddr() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return {};
  return formatAddr(ss);
}

bool Session::accept(uv_stream_t* server, std::shared_ptr<const TlsContext> tls) {
  uv_tcp_init(worker_->loop(), &tcp_);
  tcp_.data = this;
  // A Unix socket client is accepted into this TCP handle too: libuv opens any stream socket's
  // descriptor into one, and the session makes no TCP-only call for such a client, so it costs
  // what any client does.
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Session::onClosed);
    return false;
  }
  writer_.init(reinterpret_cast<uv_stream_t*>(&tcp_), this, &Session::onWriteDone,
               &worker_->chunks());
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    addr_ = ss.ss_family == AF_UNIX ? localAddr() : formatAddr(ss);  // a Unix peer has no name
  if (!unixSocket())
    uv_tcp_nodelay(&tcp_, 1);

  worker_->stats().connections_accepted.add();
  if (!worker_->shared().admitClient(worker_->config().limits.max_clients)) {
    worker_->stats().connections_rejected_max_clients.add();
    if (tls) {
      // A TLS client could read the error only after a handshake it is refused: closed, as Redis
      // closes it.
      closed_ = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Session::onClosed);
      return false;
    }
    // Said the way Redis says it, then closed once the bytes are out.
    writer_.append("-ERR max number of clients reached\r\n");
    closing_ = true;
    admitted_ = false;
    markDirty();
    return true;
  }
  admitted_ = true;
  worker_->stats().clients_connected.add(1);
  if (tls)
    startTls(std::move(tls));
  resumeReading();
  return true;
}

void Session::pauseReading() {
  if (!reading_)
    return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
}

void Session::resumeReading() {
  if (reading_ || closed_ || closing_ || input_held_ || paused_for_output_ || paused_for_send_ ||
      worker_->draining())
    return;
  reading_ = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Session::onAlloc, &Session::onRead);
}

void Session::closeAfterReplies() {
  if (!closing_)
    x().closing_since_ms = worker_->nowMs();
  closing_ = true;
  pauseReading();
  markDirty();
}

void Session::holdInput() {
  input_held_ = true;
  continue_input_ = false;  // a barrier set now outranks one that cleared before it
  pauseReading();
}

void Session::maybeContinue() {
  if (!input_held_ || continue_input_ || barrier_slot_ || stream_reset_pending_ ||
      stream_lookup_pending_)
    return;
  if (reset_slot_ && (router_.inflight() > 0 || router_.waiting()))
    return;
  continue_input_ = true;  // done at the next flush, outside whatever delivery is running now
  markDirty();
}

void Session::continueInput() {
  continue_input_ = false;
  input_held_ = false;
  if (reset_slot_) {
    ReplySlot* slot = reset_slot_;
    reset_slot_ = nullptr;
    finishReset(slot);
  }
  resumeReading();
  if (!inbuf_.empty() && !closed_)
    processInput(std::string_view());
}

// While an incomplete request is kept, the next bytes are read in place behind it, with room for
// the whole of a large argument at once (as Redis sizes its query buffer for a big bulk).
void Session::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Session*>(h->data);
  // Ciphertext always lands in the worker's buffer: the channel copies it (onTlsRead).
  if (self->inbuf_.empty() || self->tls_) {
    buf->base = self->worker_->readBuffer();
    buf->len = Worker::kReadBufferSize;
    return;
  }
  const size_t have = self->inbuf_.size();
  const size_t need = self->input_need_ > have ? self->input_need_ - have : 0;
  size_t room = 0;
  buf->base = self->inbuf_.reserve(std::max(need, Worker::kReadBufferSize), &room);
  buf->len = room;
}

void Session::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Session*>(s->data);
  if (nread == 0 || self->closed_)
    return;
  if (nread < 0) {
    self->close(nread == UV_EOF ? nullptr : uv_strerror(static_cast<int>(nread)));
    return;
  }
  self->worker_->stats().bytes_in.add(static_cast<uint64_t>(nread));
  self->worker_->stampNow();
  self->last_active_ms_ = self->worker_->nowMs();
  std::string_view data(buf->base, static_cast<size_t>(nread));
  if (self->tls_)
    return self->onTlsRead(data);
  if (buf->base != self->worker_->readBuffer()) {
    // Read in place behind the incomplete request kept in inbuf_.
    self->inbuf_.commit(data.size());
    data = {};
  }
  self->onPlaintext(data);
}

// `data`: as for processInput (empty when the bytes were put into inbuf_).
void Session::onPlaintext(std::string_view data) {
  if (raw_) {
    // A replication link: the client's bytes (REPLCONF ACK...) go upstream as they are.
    if (data.empty()) {
      router_.sendRaw(inbuf_.view());
      inbuf_.release();
    } else {
      router_.sendRaw(data);
    }
    return;
  }
  worker_->refreshIfChanged();
  if (closed_)
    return;
  processInput(data);
}

// `data`: bytes read into the worker's buffer; empty when they were read into inbuf_ (or when
// input resumes after a pause).
void Session::processInput(std::string_view data) {
  if (inbuf_.empty()) {
    // Fast path: requests are decoded straight from the read buffer.
    size_t used = processBuffer(data);
    if (used < data.size() && !closed_ && !closing_)
      inbuf_.append(data.substr(used));
  } else {
    if (!data.empty())
      inbuf_.append(data);
    Worker::BytesOwnerScope owner(worker_, inbuf_.block());
    inbuf_.consume(processBuffer(inbuf_.view()));
  }
  if (inbuf_.size() > worker_->config().limits.max_query_buffer_bytes && !closed_) {
    worker_->stats().clients_query_limit.add();
    KW_LOG_WARN("client %s exceeded max query buffer (%zu bytes); closing", addr_.c_str(),
                inbuf_.size());
    close("max query buffer");
  }
}

size_t Session::processBuffer(std::string_view data) {
  const LimitsConfig& lim = worker_->config().limits;
  DecodeLimits limits;
  // Before AUTH the caps are Redis's own (or stricter ones from the config, never looser).
  limits.max_bulk_len =
      user_ ? lim.max_bulk_len : std::min(lim.preauth_max_bulk_len, lim.max_bulk_len);
  limits.max_array_len =
      user_ ? lim.max_array_len : std::min(lim.preauth_max_array_len, lim.max_array_len);
  limits.max_inline_len = lim.max_inline_len;
  RequestDecoder& decoder = worker_->decoder();
  DecodedRequest& req = scratch_->decoded;  // the worker's: its vector keeps its capacity
  size_t off = 0;
  // Stops at QUIT, an error, RESET while streaming, SYNC, when replies pile up over the
  // reply buffer cap (the rest waits in inbuf_ until the client reads), and when the upstream
  // link's send queue is full (until Redis takes it).
  input_need_ = 0;
  dispatch_input_ = static_cast<uint32_t>(std::min<size_t>(data.size(), UINT32_MAX));
  while (off < data.size() && !closed_ && !closing_ && !input_held_ && !raw_ &&
         !paused_for_output_ && !paused_for_send_) {
    size_t used = 0;
    auto st = decoder.next(data.substr(off), limits, &req, &used);
    if (st == RequestDecoder::Status::kNeedMore) {
      input_need_ = decoder.needHint();
      break;
    }
    off += used;
    if (st == RequestDecoder::Status::kSkip)
      continue;
    if (st == RequestDecoder::Status::kError) {
      // Like Redis: one error reply, then the connection is closed (the stream can no longer
      // be framed, so no later byte can be trusted to start a request). Replies owed to
      // earlier requests are written first.
      worker_->stats().errors_protocol.add();
      current_raw_ = {};  // no request: nothing of the input goes into the slow log
      current_cmd_ = CommandTable::kUnknownIndex;
      KW_LOG_INFO("protocol error from client %s: %s", addr_.c_str(), decoder.error().c_str());
      std::string msg = "ERR " + decoder.error();
      if (!user_) {
        // Redis words the pre-AUTH caps its own way.
        if (decoder.error() == "Protocol error: invalid multibulk length")
          msg = "ERR Protocol error: unauthenticated multibulk length";
        else if (decoder.error() == "Protocol error: invalid bulk length")
          msg = "ERR Protocol error: unauthenticated bulk length";
      }
      replyError(msg);
      closeAfterReplies();
      return data.size();
    }
    dispatch(req);
    current_raw_ = {};  // a view into the input: stale once this batch is consumed
    if (const UpstreamLink* link = router_.current();
        link && link->queuedBytes() > Worker::kSendQueueHigh)
      waitForSendRoom();
  }
  dispatch_input_ = 0;
  if (raw_ && off < data.size() && !closed_) {
    // Bytes pipelined behind SYNC/PSYNC belong to the replication link.
    router_.sendRaw(data.substr(off));
    off = data.size();
  }
  return off;
}

// ---- dispatch ----

void Session::dispatch(const DecodedRequest& req) {
  worker_->stats().commands_total.add();
  const CommandInfo* cmd = worker_->commands().find(req.args[0]);
  current_raw_ = req.raw;
  dest_ = Destination{};
  if (!in_multi_ && !watching_)
    txn_slot_ = ReplySlot::kNoHashSlot;
  current_cmd_ = worker_->commands().indexOf(cmd);
  current_ns_ = Resolution::kNone;
  current_outcome_ = Outcome::kOk;
  last_cmd_ = current_cmd_;
  scratch_->followups.clear();  // what an earlier request of any session left is not ours
  scratch_->followup_count = 0;
  if (extras_)
    extras_->last_sub[0] = '\0';
  if (cmd &&
      (cmd->id == CmdId::kClient || cmd->id == CmdId::kScript || cmd->id == CmdId::kFunction ||
       cmd->id == CmdId::kConfig) &&
      req.args.size() > 1 && req.args[1].size() < sizeof(Extras::last_sub)) {
    char* sub = x().last_sub;
    for (size_t i = 0; i < req.args[1].size(); ++i)
      sub[i] = asciiToLower(req.args[1][i]);
    sub[req.args[1].size()] = '\0';
  }
  // Secrets never reach the slow log (Redis redacts the same commands).
  redact_ = cmd && (cmd->id == CmdId::kAuth || cmd->id == CmdId::kHello || cmd->name == "migrate");
  filter_scan_ = false;
  if (cmd) {
    const long argc = static_cast<long>(req.args.size());
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
      if (router_.streaming() && !raw_) {
        // Redis answers it with the same words, in stream order (and in its MULTI, if any).
        worker_->stats().commands_forwarded.add();
        return router_.sendStream(req.raw);
      }
      worker_->stats().commands_local.add();
      current_outcome_ = Outcome::kRefusedOther;
      return wrongArity(cmd->name);
    }
  }
  // The policy chain (policy_gates.cc): each gate answers its own refusals.
  if (!gateAuth(req, cmd))
    return;
  if (!gateAccess(req, cmd))
    return;
  if (!runGates(req, cmd))
    return;
  const DecodedRequest* effective = &req;
  if (!gateTtl(req, cmd, &scratch_->rewritten, &effective))
    return;
  if (router_.streaming())
    return dispatchStreaming(*effective, cmd);
  if (clusterMode() && routeCluster(*effective, cmd))
    return;
  if (runStages(*effective, cmd))
    return;
  route(*effective, cmd);
}

// ---- request stages (request_stage.h) ----

bool Session::runGates(const DecodedRequest& req, const CommandInfo* cmd) {
  const auto& gates = worker_->gates();
  if (gates.empty())
    return true;
  stage_req_ = &req;
  stage_cmd_ = cmd;
  for (const auto& gate : gates)
    if (gate->onRequest(*this) == RequestStage::Verdict::kDone)
      return false;
  return true;
}

std::span<const uint32_t> Session::keyNamespaces() {
  if (!access_checked_)
    return {};
  // Users with full access had only their first key resolved: the others are resolved now.
  PolicyScratch& keys = scratch_->access;
  const std::span<const std::string_view> args = stage_req_->args;
  for (size_t i = keys.ns_ids.size(); i < keys.positions.size(); ++i) {
    const auto pos = static_cast<size_t>(keys.positions[i]);
    keys.ns_ids.push_back(pos < args.size() ? worker_->policy().namespaces().resolve(args[pos]).ns
                                            : Resolution::kNone);
  }
  return keys.ns_ids;
}

void Session::refuseRateLimited(std::string_view error, uint32_t ns) {
  current_outcome_ = Outcome::kRefusedRateLimit;
  if (ns != Resolution::kNone)
    current_ns_ = worker_->policy().counterId(ns);
  replyError(error);
}

bool Session::runStages(const DecodedRequest& req, const CommandInfo* cmd) {
  const auto& stages = worker_->stages();
  if (stages.empty())
    return false;
  stage_req_ = &req;
  stage_cmd_ = cmd;
  for (const auto& stage : stages) {
    if (stage->onRequest(*this) != RequestStage::Verdict::kDone)
      continue;
    if (stage_slot_) {
      // The stage's forward found no link and the stage did not answer: say why.
      ReplySlot* slot = stage_slot_;
      stage_slot_ = nullptr;
      completeUnavailable(slot, scratch_->stage_cause);
    }
    return true;
  }
  return false;
}

bool Session::plainState() const {
  // An upstream ACL identity of the client's own (AUTH checked by Redis) changes what a read
  // returns too (Redis may refuse it): only clients running as keywarden's identity are plain.
  return db_ == worker_->config().upstream.db && !in_multi_ && !watching_ && !router_.pinned() &&
         !router_.streaming() && pool_ == &worker_->upstreams().main();
}

// The slot for the stage's answer: the one its failed forward reserved, or a new one.
ReplySlot* Session::stageSlot() {
  ReplySlot* slot = stage_slot_ ? stage_slot_ : newSlot();
  stage_slot_ = nullptr;
  return slot;
}

void Session::answer(std::string_view reply) {
  worker_->stats().commands_local.add();
  if (stream_slot_)
    return streamLocal(reply);
  complete(stageSlot(), reply);
}

void Session::refuse(std::string_view error) {
  worker_->stats().commands_local.add();
  current_outcome_ = Outcome::kRefusedOther;
  if (in_multi_)
    multi_dirty_ = true;
  ReplySlot* slot = stageSlot();
  slot->refusal = static_cast<uint8_t>(current_outcome_);
  worker_->stats().errors_refused.add();
  std::string line = "-";
  line.append(error);
  line.append("\r\n");
  complete(slot, line);
}

ReplySlot* Session::forward(std::string_view raw, RequestStage* stage, uint64_t tag) {
  ReplySlot* slot = stageSlot();
  std::string cause;
  if (!sendInTransaction(raw, slot, RequestShape{}, &cause)) {
    // Nothing sent, nothing answered: the slot waits for the stage's answer (or the error).
    stage_slot_ = slot;
    scratch_->stage_cause = std::move(cause);
    return nullptr;
  }
  slot->effect = SlotEffect::kStage;
  slot->stage = stage;
  slot->tag = tag;
  if (in_multi_)
    ++multi_queued_;  // its place in EXEC's reply (applyExec)
  worker_->stats().commands_forwarded.add();
  sendFollowups();
  return slot;
}

bool Session::resend(ReplySlot* slot, std::string_view preload, std::string_view raw) {
  std::string cause;
  const Destination to =
      slot->hash_slot != ReplySlot::kNoHashSlot ? slotDestination(slot->hash_slot) : Destination{};
  if (!preload.empty() && !router_.send(preload, nullptr, RequestShape{}, &cause, to))
    return false;
  return router_.send(raw, slot, RequestShape{}, &cause, to);
}

ReplySlot* Session::hold() {
  ReplySlot* slot = stageSlot();
  slot->external = true;
  return slot;
}

void Session::route(const DecodedRequest& req, const CommandInfo* cmd) {
  const RequestShape shape =
      classifyRequest(cmd, std::span<const std::string_view>(req.args), in_multi_);
  switch (shape.shape) {
  case ReplyShape::kLocal:
    return dispatchLocal(req, *cmd);
  case ReplyShape::kStream:
    if (cmd->id == CmdId::kClient) {
      // CLIENT TRACKING on ... REDIRECT <id>: the id is keywarden's; Redis needs its own.
      for (size_t i = 3; i + 1 < req.args.size(); ++i)
        if (equalsIgnoreCase(req.args[i], "redirect"))
          return startTrackingRedirect(req, i + 1);
    }
    return startStream(req);
  case ReplyShape::kRaw:
    return startRaw(req);
  case ReplyShape::kOne:
    break;
  }
  if (cmd && cmd->id == CmdId::kClient && !in_multi_ && !user_->admin &&
      (equalsIgnoreCase(req.args[1], "pause") || equalsIgnoreCase(req.args[1], "unpause"))) {
    // CLIENT PAUSE / UNPAUSE act on every client of the shared Redis.
    worker_->stats().commands_local.add();
    current_outcome_ = Outcome::kRefusedAcl;
    return replyError("NOPERM User " + user_->name + " has no permissions to run the 'client|" +
                      asciiLower(req.args[1]) + "' command (admin only)");
  }
  if (in_multi_ && clusterMode() && cmd && cmd->id == CmdId::kSelect) {
    worker_->stats().commands_local.add();
    return replyError("ERR SELECT is not allowed in cluster mode");
  }
  if (in_multi_ && txn_unpinned_ && !(cmd && cmd->id == CmdId::kClient && emulatedInExec(req))) {
    // Cluster: no keyed command yet says which node runs this transaction (routeCluster).
    ++multi_queued_;
    return queueUnpinned(req.raw);
  }
  if (in_multi_) {
    if (cmd && cmd->id == CmdId::kSelect && req.args.size() == 2) {
      // Takes effect when EXEC runs it: remembered with its place in the transaction.
      x().multi_selects +=
          "S" + std::to_string(multi_queued_) + ":" + std::string(req.args[1]) + ",";
    } else if (cmd && cmd->id == CmdId::kClient && emulatedInExec(req)) {
      // Connection state the proxy keeps (name, id...): a placeholder holds its place in the
      // transaction; EXEC's reply gets the proxy's own answer there (applyExec).
      std::string& selects = x().multi_selects;
      selects += "L" + std::to_string(multi_queued_) + ":" + std::to_string(req.args.size()) + ":";
      for (std::string_view a : req.args) {
        selects += std::to_string(a.size()) + ":";
        selects.append(a);
      }
      ++multi_queued_;
      static const char kPing[] = "*1\r\n$4\r\nPING\r\n";
      if (txn_unpinned_)
        return queueUnpinned(std::string_view(kPing, sizeof kPing - 1));
      forward(DecodedRequest{std::string_view(kPing, sizeof kPing - 1), {"PING"}}, shape);
      return;
    }
    ++multi_queued_;
  }
  if (cmd && cmd->id == CmdId::kConfig)
    noteConfigSet(req);
  if (cmd && cmd->id == CmdId::kPing && !in_multi_) {
    // PING goes to Redis, so a health check through the proxy sees what Redis says (-BUSY,
    // -LOADING...); only with no upstream to ask does the proxy answer it.
    ReplySlot* slot = newSlot();
    std::string cause;
    if (router_.send(req.raw, slot, shape, &cause)) {
      worker_->stats().commands_forwarded.add();
      return;
    }
    worker_->stats().commands_local.add();
    std::string out = "+PONG\r\n";
    if (req.args.size() == 2) {
      out.clear();
      resp::bulk(&out, req.args[1]);
    }
    return complete(slot, out);
  }
  forwardOrWait(req, shape, filter_scan_ ? SlotEffect::kFilterScan : SlotEffect::kNone);
}

void Session::forwardOrWait(const DecodedRequest& req, const RequestShape& shape,
                            SlotEffect effect) {
  const TopologySource* source = worker_->shared().topology_source;
  if (!source || !source->waitForTopology() || in_multi_ || router_.pinned() ||
      router_.holds() != 0 || barrier_slot_ || input_held_ || scratch_->followup_count != 0 ||
      req.raw.size() > kTopologyWaitMax) {
    forward(req, shape, effect);
    return;
  }
  ReplySlot* slot = newSlot();
  slot->effect = effect;
  std::string cause;
  if (router_.send(req.raw, slot, shape, &cause, dest_)) {
    worker_->stats().commands_forwarded.add();
    return;
  }
  worker_->stats().upstream_topology_waits.add();
  Extras& e = x();
  e.wait_slot = slot;
  e.wait_raw.assign(req.raw);
  e.wait_shape = shape;
  e.wait_deadline_ms = worker_->nowMs() + worker_->config().upstream.request_timeout_ms;
  if (!e.wait_timer) {
    e.wait_timer = new uv_timer_t;
    uv_timer_init(worker_->loop(), e.wait_timer);
    e.wait_timer->data = this;
  }
  uv_timer_start(e.wait_timer, &Session::onTopologyWaitTimer, kTopologyRetryMs, 0);
  // Nothing of this client's goes before it: input resumes once it is answered.
  barrier_slot_ = slot;
  holdInput();
}

void Session::onTopologyWaitTimer(uv_timer_t* t) {
  auto* self = static_cast<Session*>(t->data);
  if (self->closed_ || !self->extras_ || !self->extras_->wait_slot)
    return;
  Extras& e = *self->extras_;
  ReplySlot* slot = e.wait_slot;
  std::string cause;
  if (self->router_.send(e.wait_raw, slot, e.wait_shape, &cause, Destination{})) {
    e.wait_slot = nullptr;
    e.wait_raw.clear();
    self->worker_->stats().commands_forwarded.add();
    self->markDirty();
    return;
  }
  if (self->worker_->nowMs() < e.wait_deadline_ms) {
    uv_timer_start(t, &Session::onTopologyWaitTimer, kTopologyRetryMs, 0);
    return;
  }
  e.wait_slot = nullptr;
  e.wait_raw.clear();
  self->worker_->stats().upstream_topology_wait_timeouts.add();
  self->completeUnavailable(slot, cause);
  self->markDirty();
}

// CONFIG SET busy-reply-threshold (or its old name lua-time-limit) through keywarden: the
// threshold past which a shared link counts as stuck (LinkPool::stuck) follows Redis's, unless
// the configuration fixes its own.
void Session::noteConfigSet(const DecodedRequest& req) {
  if (req.args.size() < 4 || !equalsIgnoreCase(req.args[1], "set") ||
      worker_->config().upstream.busy_threshold_ms != 0)
    return;
  for (size_t i = 2; i + 1 < req.args.size(); i += 2) {
    if (!equalsIgnoreCase(req.args[i], "busy-reply-threshold") &&
        !equalsIgnoreCase(req.args[i], "lua-time-limit"))
      continue;
    uint32_t ms = 0;
    const std::string_view v = req.args[i + 1];
    auto r = std::from_chars(v.data(), v.data() + v.size(), ms);
    if (r.ec == std::errc() && r.ptr == v.data() + v.size())
      worker_->shared().busy_threshold_ms.store(ms, std::memory_order_relaxed);
  }
}

void Session::dispatchLocal(const DecodedRequest& req, const CommandInfo& cmd) {
  switch (cmd.id) {
  case CmdId::kEcho:
    return cmdEcho(req);
  case CmdId::kQuit:
    return cmdQuit();
  case CmdId::kReset:
    return cmdReset();
  case CmdId::kHello:
    if (in_multi_)
      return queueHello(req);
    return cmdHello(req);
  case CmdId::kAuth:
    return cmdAuth(req);
  case CmdId::kClient:
    if (in_multi_) {
      worker_->stats().commands_local.add();
      return replyError("ERR CLIENT REPLY inside MULTI is not supported by keywarden");
    }
    return cmdClient(req);
  case CmdId::kSelect:
    return cmdSelect(req);
  case CmdId::kInfo:
    return cmdInfo(req);
  case CmdId::kSlowlog:
    return cmdSlowlog(req);
  case CmdId::kKeywarden:
    return cmdKeywarden(req);
  case CmdId::kReadonly:
  case CmdId::kReadwrite:
    worker_->stats().commands_local.add();
    return replyError("ERR This instance has cluster support disabled");
  case CmdId::kUnsubscribe:
    return cmdUnsubscribeLocal(req);
  case CmdId::kReplconf:
    return cmdReplconf(req);
  case CmdId::kMulti:
  case CmdId::kExec:
  case CmdId::kDiscard:
  case CmdId::kWatch:
  case CmdId::kUnwatch:
    return dispatchTransaction(req, cmd);
  default:
    break;
  }
  // Not reachable for rows the classifier calls local; answer rather than hang.
  worker_->stats().commands_local.add();
  replyError("ERR internal error: no handler for '" + asciiLower(cmd.name) + "'");
}

// A stream: SUBSCRIBE family, MONITOR, CLIENT TRACKING on. From here on the pinned link sends
// every frame to this client.
void Session::startStream(const DecodedRequest& req) {
  ReplySlot* slot = newSlot();
  std::string cause;
  if (!router_.hold(Router::kHoldStream, &cause, dest_))
    return completeUnavailable(slot, cause);
  // The link is this client's for good (never pooled again): it carries the client's name, so
  // CLIENT GETNAME sent on it while streaming answers as Redis would.
  std::string setname;
  resp::arrayHeader(&setname, 3);
  resp::bulk(&setname, "CLIENT");
  resp::bulk(&setname, "SETNAME");
  resp::bulk(&setname, cx().name);
  router_.sendDropped(setname, 1);
  if (!router_.startStream(req.raw, &cause))
    return completeUnavailable(slot, cause);
  worker_->stats().commands_forwarded.add();
  slot->effect = SlotEffect::kStream;
  stream_slot_ = slot;
}

// SYNC / PSYNC: Redis's replication stream, relayed byte for byte on a link of its own.
void Session::startRaw(const DecodedRequest& req) {
  ReplySlot* slot = newSlot();
  std::string cause;
  if (!router_.startRaw(req.raw, &cause)) {
    worker_->stats().errors_upstream_down.add();
    return complete(slot, "-ERR " + cause + "\r\n");
  }
  worker_->stats().commands_forwarded.add();
  slot->effect = SlotEffect::kStream;
  stream_slot_ = slot;
  raw_ = true;
}

// MULTI/EXEC/DISCARD/WATCH/UNWATCH.
void Session::dispatchTransaction(const DecodedRequest& req, const CommandInfo& cmd) {
  const RequestShape one;
  std::string cause;
  switch (cmd.id) {
  case CmdId::kMulti:
    if (in_multi_ && txn_unpinned_) {
      worker_->stats().commands_local.add();
      return replyLocal("-ERR MULTI calls can not be nested\r\n");
    }
    if (!in_multi_ && clusterMode() && router_.holds() == 0) {
      // Its node is the first keyed command's (routeCluster): until then it is answered here. A
      // link still pinned only for replies (the last transaction's EXEC) does not decide it.
      in_multi_ = true;
      multi_dirty_ = false;
      multi_queued_ = 0;
      txn_unpinned_ = true;
      if (extras_)
        extras_->multi_selects.clear();
      worker_->stats().commands_local.add();
      return replyLocal("+OK\r\n");
    }
    if (!in_multi_) {
      if (!router_.hold(Router::kHoldMulti, &cause)) {
        // No link for the transaction. The client may have pipelined its commands and EXEC
        // behind MULTI without reading MULTI's reply: each is refused (forward) and EXEC aborts,
        // so nothing of the transaction runs outside it.
        in_multi_ = true;
        multi_queued_ = 0;
        return replyUnavailable(cause);
      }
      in_multi_ = true;
      multi_dirty_ = false;
      multi_queued_ = 0;
      if (extras_)
        extras_->multi_selects.clear();
    }
    forward(req, one);
    return;
  case CmdId::kExec:
  case CmdId::kDiscard: {
    if (in_multi_ && txn_unpinned_) {
      if (cmd.id == CmdId::kExec && !multi_dirty_) {
        // No keyed command in it: it runs on the node keyless requests go to.
        if (!startPinnedTransaction()) {
          in_multi_ = false;
          multi_dirty_ = false;
          endClusterTransaction();
          return;
        }
      } else {
        in_multi_ = false;
        multi_dirty_ = false;
        endClusterTransaction();
        worker_->stats().commands_local.add();
        return replyLocal(cmd.id == CmdId::kExec
                              ? "-EXECABORT Transaction discarded because of previous errors.\r\n"
                              : "+OK\r\n");
      }
    }
    if (in_multi_ && !router_.pinned()) {
      // The transaction never started (its MULTI found no link).
      in_multi_ = false;
      multi_dirty_ = false;
      watching_ = false;
      worker_->stats().commands_local.add();
      return replyLocal(cmd.id == CmdId::kExec
                            ? "-EXECABORT Transaction discarded because of previous errors.\r\n"
                            : "+OK\r\n");
    }
    if (in_multi_ && multi_dirty_ && cmd.id == CmdId::kExec) {
      // Upstream queued only what we let through: discard it, and answer as Redis would.
      static const char kDiscard[] = "*1\r\n$7\r\nDISCARD\r\n";
      DecodedRequest discard{std::string_view(kDiscard, sizeof kDiscard - 1), {"DISCARD"}};
      in_multi_ = false;
      watching_ = false;
      multi_dirty_ = false;
      if (extras_) {
        extras_->post_exec.clear();
        extras_->post_exec_count = 0;
      }
      forward(discard, one, SlotEffect::kExecAbort);
      router_.drop(Router::kHoldMulti | Router::kHoldWatch);
      return;
    }
    const bool was_in_multi = in_multi_;
    // Without MULTI, Redis answers "EXEC without MULTI" and keeps the WATCH (on whatever link
    // this client uses).
    ReplySlot* slot = forward(
        req, one, cmd.id == CmdId::kExec && was_in_multi ? SlotEffect::kExec : SlotEffect::kNone);
    if (!was_in_multi) {
      if (extras_)
        extras_->multi_selects.clear();
      return;
    }
    in_multi_ = false;
    watching_ = false;
    multi_dirty_ = false;
    if (slot && cmd.id == CmdId::kExec && !cx().multi_selects.empty()) {
      // The transaction changes state the proxy answers from (db, name, protocol) when EXEC
      // runs: later requests wait for EXEC's reply, so they see it changed, as in Redis.
      slot->aux = std::move(extras_->multi_selects);
      barrier_slot_ = slot;
      holdInput();
    }
    if (extras_) {
      if (slot && cmd.id == CmdId::kExec && extras_->post_exec_count > 0)
        router_.sendDropped(extras_->post_exec, extras_->post_exec_count);
      extras_->multi_selects.clear();
      extras_->post_exec.clear();
      extras_->post_exec_count = 0;
    }
    router_.drop(Router::kHoldMulti | Router::kHoldWatch);
    return;
  }
  case CmdId::kWatch:
    if (!in_multi_) {
      if (!router_.hold(Router::kHoldWatch, &cause, dest_))
        return replyUnavailable(cause);
      watching_ = true;
    }
    forward(req, one);
    return;
  case CmdId::kUnwatch:
    watching_ = false;
    if (!router_.pinned()) {
      worker_->stats().commands_local.add();
      return replyLocal("+OK\r\n");
    }
    forward(req, one);
    router_.drop(Router::kHoldWatch);
    return;
  default:
    return;
  }
}

void Session::dispatchStreaming(const DecodedRequest& req, const CommandInfo* cmd) {
  // Everything goes to the streaming link, which is this client's alone and never reused: its
  // name there is the client's (startStream), so CLIENT GETNAME/SETNAME answer as Redis would,
  // in stream order and in any MULTI the client opens on it.
  worker_->stats().commands_forwarded.add();
  if (cmd && (cmd->id == CmdId::kMulti))
    stream_multi_ = true;
  else if (cmd && (cmd->id == CmdId::kExec || cmd->id == CmdId::kDiscard))
    stream_multi_ = false;
  if (cmd && cmd->id == CmdId::kClient && req.args.size() == 3 &&
      equalsIgnoreCase(req.args[1], "setname"))
    x().name.assign(req.args[2]);

  if (cmd && cmd->id == CmdId::kClient && req.args.size() > 2 &&
      equalsIgnoreCase(req.args[1], "tracking") && extras_)
    extras_->redirect_upstream_id = -1;  // a REDIRECT in it sets it again (below)
  if (cmd && cmd->id == CmdId::kClient && req.args.size() > 3 &&
      equalsIgnoreCase(req.args[1], "tracking")) {
    // CLIENT TRACKING on ... REDIRECT <id> again (after TRACKING off, or while subscribed): the
    // id is keywarden's here too.
    for (size_t i = 3; i + 1 < req.args.size(); ++i)
      if (equalsIgnoreCase(req.args[i], "redirect"))
        return streamTrackingRedirect(req, i + 1);
  }
  if (cmd && cmd->id == CmdId::kClient && req.args.size() == 2 &&
      (equalsIgnoreCase(req.args[1], "getredir") || equalsIgnoreCase(req.args[1], "trackinginfo")))
    streamTranslateNext();
  if (cmd && cmd->id == CmdId::kHello && req.args.size() >= 2) {
    // Redis switches this connection's protocol; later local replies follow it.
    if (req.args[1] == "2" || req.args[1] == "3")
      proto_ = req.args[1][0] - '0';
  }
  if (cmd && cmd->id == CmdId::kSelect && req.args.size() == 2) {
    // Sent on the streaming link itself (RESP3 allows it while subscribed); the db follows.
    long long db = -1;
    auto r = std::from_chars(req.args[1].data(), req.args[1].data() + req.args[1].size(), db);
    if (r.ec == std::errc() && r.ptr == req.args[1].data() + req.args[1].size() && db >= 0 &&
        db <= INT32_MAX && proto_ >= 3)
      db_ = static_cast<int>(db);
  }
  std::string stream_node;
  if (streamKeysElsewhere(req, cmd, &stream_node)) {
    // The link is one node's: a key of another would come back as MOVED, which no client of a
    // single Redis expects.
    worker_->stats().errors_refused.add();
    return streamLocal("-ERR keywarden: this connection is subscribed (or tracking) on cluster "
                       "node " +
                       stream_node +
                       ", and this command's keys are on another node; send it on another "
                       "connection, or after RESET\r\n");
  }
  router_.sendStream(req.raw);
  if (cmd && cmd->id == CmdId::kReset) {
    // What follows RESET must be routed by the state after it: wait for it to have run. A PING
    // with a token marks that point, whatever RESET itself answered (CLIENT REPLY SKIP drops it).
    const std::string token = streamToken();
    std::string ping;
    resp::arrayHeader(&ping, 2);
    resp::bulk(&ping, "PING");
    resp::bulk(&ping, token);
    router_.sendStream(ping);
    router_.expectStreamReset(token);
    stream_reset_pending_ = true;
    holdInput();
  }
}

ReplySlot* Session::forward(const DecodedRequest& req, const RequestShape& shape, SlotEffect effect,
                            int64_t arg) {
  ReplySlot* slot = newSlot();
  slot->effect = effect;
  slot->arg = arg;
  std::string cause;
  if (!sendInTransaction(req.raw, slot, shape, &cause)) {
    // The slot is answered in place; inside MULTI that makes EXEC abort, as any refusal does.
    if (in_multi_)
      multi_dirty_ = true;
    slot->effect = SlotEffect::kNone;
    completeUnavailable(slot, cause);
    return nullptr;
  }
  worker_->stats().commands_forwarded.add();
  sendFollowups();
  return slot;
}

// Router::send, except inside a transaction whose MULTI found no link: nothing of it may run
// outside it, so every command queued in it is refused.
bool Session::sendInTransaction(std::string_view raw, ReplySlot* slot, const RequestShape& shape,
                                std::string* cause) {
  if (in_multi_ && !router_.pinned()) {
    *cause = "the transaction has no connection: its MULTI was refused";
    return false;
  }
  if (!router_.send(raw, slot, shape, cause, dest_))
    return false;
  keepForResend(slot, raw, shape.own_link);
  return true;
}

void Session::replyUnavailable(const std::string& cause) {
  if (in_multi_ && !capture_)
    multi_dirty_ = true;
  completeUnavailable(newSlot(), cause);
}

void Session::completeUnavailable(ReplySlot* slot, std::string_view cause) {
  worker_->stats().errors_upstream_down.add();
  complete(slot, upstreamUnavailableError(worker_->shared().upstream_name, cause));
}

// ---- the router's callbacks ----

// A reply the proxy gives while streaming must come after the frames of what the client sent
// before it, which are still on their way from Redis: a marker request with a token of this
// session's goes through the stream in its place, and what Redis answers to it is replaced by the
// reply (onStreamBytes). Outside MULTI the marker is PING <token>; inside the client's MULTI
// (RESP3 allows one while subscribed) it is an unknown command named <token>, which Redis refuses
// at once and which makes EXEC abort, as the proxy's refusal must.
// A token only this session can predict: a client cannot forge a marker's answer.
std::string Session::streamToken() {
  Extras& x = this->x();
  if (x.stream_nonce == 0)
    uv_random(nullptr, nullptr, &x.stream_nonce, sizeof x.stream_nonce, 0, nullptr);
  return "kw-" + std::to_string(x.stream_nonce) + "-" + std::to_string(++x.stream_seq);
}

void Session::streamLocal(std::string_view reply) {
  std::deque<StreamLocal>& locals = x().stream_locals;
  if (locals.size() >= kMaxStreamLocals)
    locals.pop_front();  // CLIENT REPLY OFF sent upstream swallows the answers
  std::string token = streamToken();
  std::string marker;
  if (stream_multi_) {
    resp::arrayHeader(&marker, 1);
    resp::bulk(&marker, token);
  } else {
    resp::arrayHeader(&marker, 2);
    resp::bulk(&marker, "PING");
    resp::bulk(&marker, token);
  }
  locals.push_back({std::move(token), std::string(reply), false});
  router_.sendStream(marker);
}

// A marker with no reply of its own, sent right before CLIENT GETREDIR / TRACKINGINFO: once its
// answer is in, the next reply frame of the stream is theirs (pub/sub messages and pushes
// aside). Not inside the client's MULTI, where the marker would make EXEC abort.
void Session::streamTranslateNext() {
  if (stream_multi_ || cx().redirect_upstream_id < 0)
    return;
  streamLocal(std::string_view());
  x().stream_locals.back().translate_next = true;
}

// GETREDIR's ":<id>" or TRACKINGINFO's "redirect" field: Redis's id of the redirect target
// becomes keywarden's. Empty *out: the frame is not such a reply.
void Session::translateRedirectId(std::string_view frame, std::string* out) const {
  const std::string id = ":" + std::to_string(cx().redirect_upstream_id) + "\r\n";
  const std::string ours = ":" + std::to_string(cx().redirect_kw_id) + "\r\n";
  if (frame.empty())
    return;
  if (frame[0] == ':') {
    if (frame == id)
      *out = ours;
    else
      *out = frame;  // -1, 0 or another id: nothing to translate, but this was the reply
    return;
  }
  static constexpr std::string_view kFlags = "\r\n$5\r\nflags\r\n";
  if ((frame[0] != '*' && frame[0] != '%') || frame.find(kFlags) == std::string_view::npos)
    return;
  static constexpr std::string_view kRedirect = "$8\r\nredirect\r\n";
  const size_t at = frame.find(kRedirect);
  out->assign(frame);
  if (at != std::string_view::npos && frame.substr(at + kRedirect.size(), id.size()) == id)
    out->replace(at + kRedirect.size(), id.size(), ours);
}
// Redis's answer to streamLocal's marker: "*2 pong <token>" in a RESP2 subscribed context, the
// bulk "<token>" otherwise, or the unknown-command error naming it.
static bool isMarkerAnswer(std::string_view frame, std::string_view token) {
  std::string bulk;
  resp::bulk(&bulk, token);
  if (frame == bulk)
    return true;
  static constexpr std::string_view kPong = "*2\r\n$4\r\npong\r\n";
  if (frame.size() == kPong.size() + bulk.size() && frame.substr(0, kPong.size()) == kPong &&
      frame.substr(kPong.size()) == bulk)
    return true;
  static constexpr std::string_view kUnknown = "-ERR unknown command '";
  return frame.size() > kUnknown.size() + token.size() &&
         frame.substr(0, kUnknown.size()) == kUnknown &&
         frame.substr(kUnknown.size(), token.size()) == token &&
         frame[kUnknown.size() + token.size()] == '\'';
}

void Session::onStreamBytes(std::string_view bytes) {
  if (closed_)
    return;
  if (extras_ && !extras_->stream_locals.empty() &&
      isMarkerAnswer(bytes, extras_->stream_locals.front().token)) {
    const bool translate = extras_->stream_locals.front().translate_next;
    std::string reply = std::move(extras_->stream_locals.front().reply);
    extras_->stream_locals.pop_front();
    if (translate) {
      extras_->translate_next = true;
      return;
    }
    return onStreamBytes(reply);
  }
  std::string translated;
  if (extras_ && extras_->translate_next && !bytes.empty() && bytes[0] != '>') {
    translateRedirectId(bytes, &translated);
    if (!translated.empty()) {
      extras_->translate_next = false;
      bytes = translated;
    }
  }
  ReplySlot* slot = stream_slot_;
  if (!slot || slot == head_) {
    // (No stream: a push on this client's own framed link; whatever is still owed comes after
    // it on that link.)
    emit(bytes);
  } else {
    slot->reply.append(bytes);
    stored_bytes_ += bytes.size();
    checkOutputLimit();
  }
  markDirty();
}

// The stream is over (RESET, a lost link, a close): its slot completes with what it buffered,
// in order (it is the head unless earlier replies are still missing).
void Session::endStreamSlot() {
  if (!stream_slot_)
    return;
  ReplySlot* slot = stream_slot_;
  stream_slot_ = nullptr;
  if (extras_)
    extras_->stream_locals.clear();
  slot->effect = SlotEffect::kNone;
  std::string buffered;
  buffered.swap(slot->reply);
  stored_bytes_ -= std::min(stored_bytes_, buffered.size());
  complete(slot, buffered);
}

void Session::onStreamEnded(UpstreamLink*) {
  endStreamSlot();
  resetConnectionState();
  router_.drop(0xff);
  stream_reset_pending_ = false;
  maybeContinue();
}

void Session::onLinkReply(UpstreamLink* link) {
  router_.onLinkReply(link);
}

void Session::onLinkLost(UpstreamLink* link) {
  const bool stateful = router_.pinned() == link && router_.holds() != 0;
  std::vector<ReplySlot*> orphans;
  router_.onLinkLost(link, &orphans);
  // Requests that were waiting to go to it get the same error the in-flight ones got.
  for (ReplySlot* slot : orphans)
    complete(slot, upstreamLostUnsentError(worker_->shared().upstream_name, link->downCause()));
  endStreamSlot();
  if (!stateful)
    return;
  // The client's transaction, WATCH, db or subscriptions lived on that connection: continuing
  // would run its next commands somewhere else (outside its MULTI, in db 0). Close it, as Redis's
  // own connection would have been closed.
  in_multi_ = false;
  txn_unpinned_ = false;
  watching_ = false;
  closeAfterReplies();
}

void Session::failUnsent(ReplySlot* slot, std::string_view cause) {
  completeUnavailable(slot, cause);
}

int64_t Session::pinnedUpstreamId() const {
  return router_.pinned() ? router_.pinned()->upstreamId() : -1;
}

int64_t Session::linkIdFor(bool claim, bool* pending) {
  std::string cause;
  if (closed_ || (!router_.pinned() && !claim))
    return -1;
  if (claim && !router_.held(Router::kHoldRedirectTarget) &&
      !router_.hold(Router::kHoldRedirectTarget, &cause))
    return -1;
  UpstreamLink* link = router_.pinned();
  const int64_t id = link->upstreamId();
  if (id < 0) {
    link->learnId();
    *pending = true;
  }
  return id;
}

// ---- replies ----

// The request with every argument after the command name replaced by "(redacted)".
std::string Session::redactedRequest(std::string_view raw) {
  std::string out;
  if (raw.empty() || raw[0] != '*')
    return out;
  const long argc = std::strtol(raw.data() + 1, nullptr, 10);
  const size_t first = raw.find("\r\n") + 2;  // "$len\r\nNAME\r\n"
  const size_t name_len_end = raw.find("\r\n", first);
  if (argc <= 0 || first < 2 || name_len_end == std::string_view::npos)
    return out;
  const long name_len = std::strtol(raw.data() + first + 1, nullptr, 10);
  resp::arrayHeader(&out, argc);
  resp::bulk(&out, raw.substr(name_len_end + 2, static_cast<size_t>(name_len)));
  for (long i = 1; i < argc; ++i)
    resp::bulk(&out, "(redacted)");
  return out;
}

ReplySlot* Session::newSlot() {
  ReplySlot* s = worker_->slots().get();
  s->owner = this;
  s->start_ns = worker_->nowNs();
  s->cmd = current_cmd_;
  s->ns = current_ns_;
  s->refusal = static_cast<uint8_t>(current_outcome_);
  if (current_outcome_ != Outcome::kOk)
    worker_->stats().errors_refused.add();
  if (worker_->config().slowlog.threshold_us >= 0) {
    if (redact_)
      s->request = redactedRequest(current_raw_);
    else
      s->request.assign(current_raw_.substr(0, std::min<size_t>(current_raw_.size(), 512)));
  }
  if (reply_mode_ == ReplyMode::kOff) {
    s->suppress = true;
  } else if (reply_mode_ == ReplyMode::kSkipThis) {
    s->suppress = true;
    reply_mode_ = ReplyMode::kOn;
  }
  if (tail_)
    tail_->next = s;
  else
    head_ = s;
  tail_ = s;
  ++slot_count_;
  return s;
}

void Session::replyLocal(std::string_view bytes) {
  if (capture_) {
    capture_->append(bytes);  // EXEC's reply is being composed (applyExec)
    return;
  }
  if (stream_slot_) {
    // While streaming, every reply is a frame of the stream, in the order it happened.
    if (raw_)
      return;  // a replication link has no requests to answer
    return streamLocal(bytes);
  }
  ReplySlot* slot = newSlot();
  complete(slot, bytes);
}

void Session::replyError(std::string_view msg) {
  // Inside MULTI, an error the proxy gives is a queue-time rejection: like Redis, EXEC then
  // discards the whole transaction. (Not an answer composed into an EXEC reply: that one ran.)
  if (in_multi_ && !capture_)
    multi_dirty_ = true;
  std::string line;
  line.reserve(msg.size() + 3);
  line.push_back('-');
  line.append(msg);
  line.append("\r\n");
  replyLocal(line);
}

void Session::deliver(Worker* worker, ReplySlot* slot, std::string_view bytes) {
  if (!slot)
    return;
  SlotOwner* owner = slot->owner;
  if (!owner) {
    worker->slots().put(slot);
    return;
  }
  owner->complete(slot, bytes);
}

// HELLO inside MULTI: Redis queues it and switches the connection's protocol when EXEC runs it,
// so the replies after it come in the new protocol. It is queued on the pinned link as it is;
// EXEC's reply gets the proxy's own HELLO answer in its place and switches the client (applyExec).
void Session::queueHello(const DecodedRequest& req) {
  int proto = proto_;
  std::string_view name;
  bool have_name = false;
  if (req.args.size() >= 2) {
    long long v = 0;
    auto r = std::from_chars(req.args[1].data(), req.args[1].data() + req.args[1].size(), v);
    if (r.ec != std::errc() || r.ptr != req.args[1].data() + req.args[1].size() || v < 2 || v > 3) {
      ++multi_queued_;  // Redis queues it; EXEC reports the error in its place
      forward(req, RequestShape{});
      return;
    }
    proto = static_cast<int>(v);
    for (size_t i = 2; i < req.args.size(); ++i) {
      if (equalsIgnoreCase(req.args[i], "auth")) {
        worker_->stats().commands_local.add();
        return replyError("ERR HELLO with AUTH inside MULTI is not supported by keywarden");
      }
      if (equalsIgnoreCase(req.args[i], "setname") && i + 1 < req.args.size()) {
        name = req.args[++i];
        have_name = true;
      }
    }
  }
  x().multi_selects += "H" + std::to_string(multi_queued_) + ":" + std::to_string(proto) + ":" +
                       std::to_string(have_name ? name.size() : 0) + ":";
  x().multi_selects.append(name);
  ++multi_queued_;
  RequestShape hello;
  hello.leaves_state = true;  // switches the link's protocol when EXEC runs it
  forward(req, hello);
}

// CLIENT subcommands whose answer is the proxy's (the client's name and id are keywarden's).
bool Session::emulatedInExec(const DecodedRequest& req) {
  if (req.args.size() < 2)
    return false;
  for (std::string_view sub :
       {"id", "getname", "setname", "setinfo", "info", "no-evict", "no-touch", "getredir"})
    if (equalsIgnoreCase(req.args[1], sub))
      return true;
  return false;
}

// EXEC's reply: each queued SELECT that answered +OK moves the client's db; each placeholder of
// an emulated CLIENT subcommand gets the proxy's answer, computed now (when Redis ran it).
void Session::applyExec(ReplySlot* slot, std::string_view* bytes, std::string* transformed) {
  const std::string& aux = slot->aux;
  const std::string_view reply = *bytes;
  if (aux.empty() || reply.size() < 2 || reply[0] != '*' || reply[1] == '-')
    return;
  std::vector<std::pair<size_t, std::string>> locals;  // element index -> the proxy's answer
  size_t pos = 0;
  auto number = [&]() {
    const size_t end = aux.find_first_of(":,", pos);
    const long v = std::strtol(aux.c_str() + pos, nullptr, 10);
    pos = end + 1;
    return v;
  };
  std::string_view element;
  char element_type = 0;
  while (pos < aux.size()) {
    const char kind = aux[pos++];
    const size_t idx = static_cast<size_t>(number());
    const bool found = nthElement(reply, idx, &element, &element_type);
    if (kind == 'S') {
      const long db = number();
      if (found && element == "+OK\r\n")
        db_ = static_cast<int>(db);
      continue;
    }
    if (kind == 'H') {
      const int proto = static_cast<int>(number());
      const size_t len = static_cast<size_t>(number());
      const std::string name = aux.substr(pos, len);
      pos += len;
      if (!found || (element_type != '%' && element_type != '*'))
        continue;  // Redis refused it: nothing changed
      // Redis switched the pinned link's protocol itself.
      proto_ = proto;
      router_.setProto(proto);
      if (UpstreamLink* link = router_.pinned())
        link->setProto(proto);
      if (len > 0)
        x().name = name;
      locals.emplace_back(idx, helloReply());
      continue;
    }
    const long argc = number();
    std::vector<std::string_view> args;
    for (long i = 0; i < argc; ++i) {
      const size_t len = static_cast<size_t>(number());
      args.emplace_back(aux.data() + pos, len);
      pos += len;
    }
    std::string answer;
    capture_ = &answer;
    cmdClient(DecodedRequest{std::string_view(), std::move(args)});
    capture_ = nullptr;
    locals.emplace_back(idx, std::move(answer));
  }
  if (locals.empty())
    return;
  // Rebuild the array with the proxy's answers in place of the placeholders' +PONG.
  size_t at = reply.find("\r\n") + 2;
  transformed->assign(reply.substr(0, at));
  size_t next_local = 0;
  for (size_t i = 0; at < reply.size(); ++i) {
    ReplyScanner scanner;
    ReplyScanner::Frame frame;
    if (scanner.scan(reply.substr(at), &frame) != ReplyScanner::Status::kComplete) {
      transformed->clear();
      return;
    }
    if (next_local < locals.size() && locals[next_local].first == i)
      transformed->append(locals[next_local++].second);
    else
      transformed->append(reply.substr(at, frame.length));
    at += frame.length;
  }
  *bytes = *transformed;
}

// Connection state that depends on what Redis answered.
void Session::applyEffect(ReplySlot* slot, std::string_view* bytes, std::string* transformed,
                          bool* kept) {
  switch (slot->effect) {
  case SlotEffect::kStage:
    *bytes = slot->stage->onReply(slot->tag, slot, *bytes, transformed, kept);
    return;
  case SlotEffect::kInfoMerge:
    *transformed = mergeInfo(slot, *bytes);
    *bytes = *transformed;
    return;
  case SlotEffect::kFilterScan:
    *transformed = filterScanReply(*bytes);
    *bytes = *transformed;
    return;
  case SlotEffect::kExecAbort:
    if (!bytes->empty() && (*bytes)[0] == '+')
      *bytes = "-EXECABORT Transaction discarded because of previous errors.\r\n";
    return;
  case SlotEffect::kSelect:
    if (*bytes == "+OK\r\n")
      db_ = static_cast<int>(slot->arg);
    break;
  case SlotEffect::kExec:
    applyExec(slot, bytes, transformed);
    break;
  case SlotEffect::kUpstreamAuth:
  case SlotEffect::kHelloAuth:
    applyUpstreamAuth(slot, *bytes, transformed);
    if (!transformed->empty())
      *bytes = *transformed;
    return;
  default:
    return;
  }
  // SELECT and EXEC may have moved the client to another db: it keeps a pinned link there.
  std::string cause;
  if (db_ != worker_->config().upstream.db)
    router_.hold(Router::kHoldDb, &cause);
  else
    router_.drop(Router::kHoldDb);
}

void Session::complete(ReplySlot* slot, std::string_view bytes) {
  if (slot->owner != this && slot->owner) {
    // A part of a split command (multi_part.h) answered by a failure path of ours.
    slot->owner->complete(slot, bytes);
    return;
  }
  if (slot == barrier_slot_)
    barrier_slot_ = nullptr;
  const bool from_upstream = slot->upstream;
  // As sent: a retry below (a stage's, a redirect) sends the slot again on another lane.
  UpstreamLink* const lane = slot->lane;
  const bool slot_local = slot->slot_local;
  slot->upstream = false;
  slot->external = false;
  std::string transformed;
  std::string redirect_error;
  if (from_upstream && (slot->hash_slot != ReplySlot::kNoHashSlot || !slot->resend.empty()) &&
      !bytes.empty() && bytes[0] == '-') {
    // A cluster node's "not here" / "not now": the request goes again, the client never sees it.
    if (redirected(slot, bytes, lane, slot_local, &redirect_error))
      return;
    if (!redirect_error.empty())
      bytes = redirect_error;
  }
  if (slot->effect != SlotEffect::kNone) {
    bool kept = false;
    applyEffect(slot, &bytes, &transformed, &kept);
    if (kept) {
      // The stage completes it later (Session::deliver), or sent it again (a retry: the reply
      // comes back to it); either way it keeps its place in the FIFO.
      if (!slot->upstream) {
        slot->effect = SlotEffect::kNone;
        slot->external = true;
      }
      if (from_upstream)
        router_.onReplyDelivered(lane, slot_local);
      return;
    }
  }
  recordCompletion(slot, bytes);
  if (slot == head_) {
    if (!slot->suppress)
      emit(bytes);
    popHead();
    drainDone();
  } else {
    slot->reply.assign(bytes.data(), bytes.size());
    slot->done = true;
    stored_bytes_ += bytes.size();
    checkOutputLimit();
  }
  markDirty();
  if (from_upstream)
    router_.onReplyDelivered(lane, slot_local);
  if (input_held_)
    maybeContinue();
}

void Session::popHead() {
  ReplySlot* s = head_;
  head_ = s->next;
  if (!head_)
    tail_ = nullptr;
  --slot_count_;
  worker_->slots().put(s);
}

void Session::drainDone() {
  while (head_) {
    if (head_ == stream_slot_) {
      if (!head_->reply.empty()) {
        stored_bytes_ -= std::min(stored_bytes_, head_->reply.size());
        emit(head_->reply);
        head_->reply.clear();
      }
      return;
    }
    if (!head_->done)
      return;
    stored_bytes_ -= std::min(stored_bytes_, head_->reply.size());
    if (!head_->suppress)
      emit(head_->reply);
    popHead();
  }
}

void Session::emit(std::string_view bytes) {
  if (closed_)
    return;
  if (SharedBlock* block = worker_->sharedOwnerOf(bytes))
    writer_.appendShared(block, bytes);  // a large reply, written from where it was read
  else
    writer_.append(bytes);
  checkOutputLimit();
}

// ---- replies passed on in parts (upstream_conn.h) ----

bool Session::beginStreamedReply(ReplySlot* slot) {
  // Only the next reply the client gets, untransformed and not suppressed: its bytes can go out
  // as they come.
  return slot == head_ && slot != stream_slot_ && slot->effect == SlotEffect::kNone &&
         !slot->suppress && !closed_;
}

void Session::streamPart(ReplySlot* slot, std::string_view part, bool last) {
  emit(part);
  markDirty();
  if (!last)
    return;
  // The whole reply is out: the slot completes as any other.
  if (slot == barrier_slot_)
    barrier_slot_ = nullptr;
  slot->upstream = false;
  UpstreamLink* const lane = slot->lane;
  const bool slot_local = slot->slot_local;
  recordCompletion(slot, "$");
  popHead();
  drainDone();
  router_.onReplyDelivered(lane, slot_local);
  if (input_held_)
    maybeContinue();
}

void Session::abortStreamedReply(ReplySlot*) {
  worker_->stats().clients_aborted_midreply.add();
  KW_LOG_WARN("client %s id=%llu: its upstream connection broke in the middle of a reply; closing",
              addr_.c_str(), static_cast<unsigned long long>(id_));
  close("upstream connection lost in the middle of a reply");
}

// ---- back-pressure ----

void Session::waitForSendRoom() {
  if (paused_for_send_)
    return;
  paused_for_send_ = true;
  worker_->stats().upstream_send_waits.add();
  pauseReading();
  worker_->addSendWaiter(this);
}

void Session::onSendRoom() {
  if (!paused_for_send_ || closed_)
    return;
  const UpstreamLink* link = router_.current();
  if (link && link->queuedBytes() > Worker::kSendQueueLow) {
    worker_->addSendWaiter(this);
    return;
  }
  paused_for_send_ = false;
  resumeReading();
  resume_input_ = true;  // requests already read go on at the next flush
  markDirty();
}

void Session::applyOutputPressure() {
  if (UpstreamLink* link = router_.pinned()) {
    // A link of its own (pinned, or moved there earlier): Redis holds the replies, as it would
    // for a direct client that does not read.
    link->pauseReading(true);
    return;
  }
  if (router_.held(Router::kHoldSlowReader) || router_.streaming())
    return;
  // On a shared link nobody may wait for this client: its next requests go to a link of its own,
  // once the replies it has in flight are in (the router's ordering gate).
  std::string cause;
  if (router_.hold(Router::kHoldSlowReader, &cause)) {
    worker_->stats().clients_slow_reader_links.add();
    slow_since_ms_ = 0;
  }
}

void Session::releaseOutputPressure() {
  if (UpstreamLink* link = router_.pinned())
    link->pauseReading(false);
}

// Back-pressure: over the reply buffer cap, the client's input is paused (replies already owed
// are still delivered, as Redis does); reading resumes under half the cap. Only a client that
// stops reading its replies altogether is disconnected (Worker housekeeping, after
// limits.reply_stall_timeout_s without write progress).
void Session::checkOutputLimit() {
  if (closed_ || paused_for_output_)
    return;
  const uint64_t total = writer_.buffered() + stored_bytes_;
  if (total > worker_->config().limits.max_reply_buffer_bytes) {
    paused_for_output_ = true;
    stalled_since_ms_ = worker_->nowMs();
    written_at_stall_ = writer_.written();
    pauseReading();
    applyOutputPressure();
  }
}

void Session::markDirty() {
  if (!closed_)
    worker_->markDirty(this);
}

void Session::flush() {
  if (closed_)
    return;
  if (continue_input_) {
    continueInput();
    if (closed_)
      return;
  }
  const uint64_t before = writer_.written();
  int rc = tls_ ? tls_->flush(&writer_) : writer_.flush();
  worker_->stats().bytes_out.add(writer_.written() - before);
  if (rc < 0) {
    close(uv_strerror(rc));
    return;
  }
  if (paused_for_output_) {
    const uint64_t total = writer_.buffered() + stored_bytes_;
    if (writer_.written() != written_at_stall_) {
      written_at_stall_ = writer_.written();
      stalled_since_ms_ = worker_->nowMs();
    }
    if (total <= worker_->config().limits.max_reply_buffer_bytes / 2) {
      paused_for_output_ = false;
      releaseOutputPressure();
      resumeReading();
      resume_input_ = true;
    }
  }
  if (resume_input_) {
    resume_input_ = false;
    if (!inbuf_.empty() && reading_)
      processInput(std::string_view());
    if (closed_)
      return;
  }
  if (closing_ && stream_slot_ && cx().stream_locals.empty())
    endStreamSlot();  // a protocol error while streaming: its answer is out, nothing else is owed
  if (outputIdle() && !head_ && (closing_ || worker_->draining())) {
    // QUIT, a protocol error or a drain: everything owed has been written.
    close(nullptr);
  }
}

bool Session::stalledOnOutput(uint64_t now_ms, uint64_t timeout_ms) const {
  return paused_for_output_ && !closed_ && now_ms - stalled_since_ms_ >= timeout_ms;
}

// Closing while streaming waits for the answer to the last marker (streamLocal), so every frame
// owed before it is out; if the client had turned replies off upstream no answer comes: the
// worker's housekeeping gives up after a while.
void Session::onHousekeeping(uint64_t now_ms) {
  if (closing_ && stream_slot_ && now_ms - cx().closing_since_ms > kStreamCloseGraceMs) {
    endStreamSlot();
    markDirty();
  }
  if (router_.held(Router::kHoldSlowReader)) {
    // Back to the shared links once the client has kept up for a while (not at the first
    // moment it catches up: a steady slow reader would move back and forth).
    const uint64_t backlog = writer_.buffered() + stored_bytes_;
    if (paused_for_output_ || backlog > worker_->config().limits.max_reply_buffer_bytes / 4) {
      slow_since_ms_ = 0;
    } else if (slow_since_ms_ == 0) {
      slow_since_ms_ = now_ms;
    } else if (now_ms - slow_since_ms_ >= kSlowReaderReleaseMs) {
      slow_since_ms_ = 0;
      router_.drop(Router::kHoldSlowReader);
    }
  }
}

bool Session::blockedOrSubscribed() const {
  return router_.streaming() ||
         (router_.pinned() && router_.pinned()->blockingInFlight() && !in_multi_);
}

void Session::onWriteDone(void* owner, int status) {
  auto* self = static_cast<Session*>(owner);
  if (self->closed_)
    return;
  if (status < 0) {
    self->close(uv_strerror(status));
    return;
  }
  self->markDirty();
}

void Session::beginDrain() {
  if (closed_)
    return;
  pauseReading();
  // Subscribers and monitors have nothing in flight that could finish: their stream ends now.
  endStreamSlot();
  closing_ = true;
  markDirty();
}

void Session::close(const char* reason) {
  if (closed_)
    return;
  closed_ = true;
  if (paused_for_send_)
    worker_->removeSendWaiter(this);
  if (reason)
    KW_LOG_DEBUG("closing client %s id=%llu: %s", addr_.c_str(),
                 static_cast<unsigned long long>(id_), reason);
  pauseReading();
  dropRetries();
  std::vector<ReplySlot*> unsent;
  router_.detach(&unsent);
  // Slots still waiting on upstream are handed to it (it frees them); the rest go back now.
  for (ReplySlot* s = head_; s;) {
    ReplySlot* next = s->next;
    s->next = nullptr;
    s->owner = nullptr;
    const bool in_flight = (s->upstream || s->external) && s->effect != SlotEffect::kStream;
    if (!in_flight)
      worker_->slots().put(s);
    s = next;
  }
  head_ = tail_ = stream_slot_ = nullptr;
  // Parts of a split command that never left (multi_part.h): their owner hears, and frees them.
  for (ReplySlot* s : unsent)
    if (s->owner && s->owner != this)
      Session::deliver(worker_, s, "-ERR client closed\r\n");
  if (admitted_) {
    worker_->shared().releaseClient();
    worker_->stats().clients_connected.add(-1);
    worker_->stats().connections_closed.add();
  }
  worker_->forgetDirty(this);
  worker_->sessionClosed(this);
  if (tls_) {
    tls_->closeNotify();
    worker_->shared().tls.clientClosed();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Session::onClosed);
}

void Session::onClosed(uv_handle_t* h) {
  delete static_cast<Session*>(h->data);
}

}  // namespace kw

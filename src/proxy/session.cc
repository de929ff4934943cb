#include "proxy/session.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "common/ascii.h"
#include "common/log.h"
#include "proxy/resp_writer.h"
#include "proxy/shared_state.h"
#include "proxy/upstream_conn.h"
#include "proxy/worker.h"

namespace kw {
namespace {

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
  }
  return std::string(host) + ":" + std::to_string(port);
}

}  // namespace

Session::Session(Worker* worker) : worker_(worker) {
  id_ = worker_->shared().nextClientId();
  user_ = worker_->policy().defaultUser();
  user_name_ = user_ ? user_->name : "";
  db_ = worker_->config().upstream.db;
  created_ms_ = last_active_ms_ = worker_->nowMs();
}

bool Session::accept(uv_stream_t* server) {
  uv_tcp_init(worker_->loop(), &tcp_);
  tcp_.data = this;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_)) != 0) {
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Session::onClosed);
    return false;
  }
  uv_tcp_nodelay(&tcp_, 1);
  writer_.init(reinterpret_cast<uv_stream_t*>(&tcp_), this, &Session::onWriteDone);
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    addr_ = formatAddr(ss);
  len = sizeof ss;
  if (uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    laddr_ = formatAddr(ss);

  worker_->stats().connections_accepted.add();
  if (!worker_->shared().admitClient(worker_->config().limits.max_clients)) {
    worker_->stats().connections_rejected_max_clients.add();
    // Said the way Redis says it, then closed once the bytes are out.
    writer_.buffer().append("-ERR max number of clients reached\r\n");
    close_after_flush_ = true;
    closed_ = false;
    admitted_ = false;
    markDirty();
    return true;
  }
  admitted_ = true;
  worker_->stats().clients_connected.add(1);
  reading_ = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Session::onAlloc, &Session::onRead);
  return true;
}

void Session::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Session*>(h->data);
  buf->base = self->worker_->readBuffer();
  buf->len = Worker::kReadBufferSize;
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
  self->worker_->refreshIfChanged();
  if (self->closed_)
    return;
  self->last_active_ms_ = self->worker_->nowMs();
  self->processInput(std::string_view(buf->base, static_cast<size_t>(nread)));
}

void Session::processInput(std::string_view data) {
  if (inbuf_.empty()) {
    // Fast path: requests are decoded straight from the read buffer.
    size_t used = processBuffer(data);
    if (used < data.size() && !closed_ && !close_after_flush_)
      inbuf_.assign(data.substr(used));
  } else {
    inbuf_.append(data);
    size_t used = processBuffer(inbuf_);
    if (used >= inbuf_.size()) {
      inbuf_.clear();
      if (inbuf_.capacity() > (1u << 20))
        std::string().swap(inbuf_);
    } else if (used > 0) {
      inbuf_.erase(0, used);
    }
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
  DecodedRequest& req = decoded_;  // a member: its argument vector keeps its capacity
  size_t off = 0;
  while (off < data.size() && !closed_ && !close_after_flush_ && !awaiting_reset_) {
    size_t used = 0;
    auto st = decoder.next(data.substr(off), limits, &req, &used);
    if (st == RequestDecoder::Status::kNeedMore)
      break;
    off += used;
    if (st == RequestDecoder::Status::kSkip)
      continue;
    if (st == RequestDecoder::Status::kError) {
      // Like Redis: one error reply, then the connection is closed (the stream can no longer
      // be framed, so no later byte can be trusted to start a request).
      worker_->stats().errors_protocol.add();
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
      close_after_flush_ = true;
      if (reading_) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
        reading_ = false;
      }
      return data.size();
    }
    dispatch(req);
  }
  return off;
}

// ---- dispatch ----

void Session::dispatch(const DecodedRequest& req) {
  worker_->stats().commands_total.add();
  const CommandInfo* cmd = worker_->commands().find(req.args[0]);
  current_raw_ = req.raw;
  current_cmd_ = worker_->commands().indexOf(cmd);
  current_ns_ = Resolution::kNone;
  current_outcome_ = Outcome::kOk;
  // Secrets never reach the slow log (Redis redacts the same commands).
  redact_ = cmd && (cmd->id == CmdId::kAuth || cmd->id == CmdId::kHello || cmd->name == "migrate");
  filter_scan_ = false;
  if (cmd) {
    const long argc = static_cast<long>(req.args.size());
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
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
  if (!gateRateLimit(req, cmd))
    return;
  const DecodedRequest* effective = &req;
  followups_.clear();
  followup_count_ = 0;
  if (!gateTtl(req, cmd, &rewritten_, &effective))
    return;
  if (passthrough_)
    return dispatchPassthrough(*effective, cmd);
  route(*effective, cmd);
}

void Session::route(const DecodedRequest& req, const CommandInfo* cmd) {
  if (cmd && cmd->id == CmdId::kClThrottle)
    return routeThrottle(req, *cmd);  // ratelimit_gate.cc
  if (cmd && cmd->id != CmdId::kOther) {
    if (in_multi_) {
      // Inside MULTI, Redis queues everything but these; so do we (on the pinned connection).
      switch (cmd->id) {
      case CmdId::kQuit:
        return cmdQuit();
      case CmdId::kReset:
        return cmdReset();
      case CmdId::kMulti:
      case CmdId::kExec:
      case CmdId::kDiscard:
      case CmdId::kWatch:
        if (dispatchTransaction(req, *cmd))
          return;
        break;
      case CmdId::kSelect:
      case CmdId::kHello:
      case CmdId::kClient:
        if (pinned_)
          pinned_->state_dirty = true;
        break;
      default:
        break;
      }
      forward(req, cmd);
      return;
    }
    if (dispatchLocal(req, *cmd))
      return;
    if (dispatchTransaction(req, *cmd))
      return;
  }
  forward(req, cmd, filter_scan_ ? SlotEffect::kFilterScan : SlotEffect::kNone);
}

bool Session::dispatchLocal(const DecodedRequest& req, const CommandInfo& cmd) {
  switch (cmd.id) {
  case CmdId::kPing:
    cmdPing(req);
    return true;
  case CmdId::kEcho:
    cmdEcho(req);
    return true;
  case CmdId::kQuit:
    cmdQuit();
    return true;
  case CmdId::kReset:
    cmdReset();
    return true;
  case CmdId::kHello:
    cmdHello(req);
    return true;
  case CmdId::kAuth:
    cmdAuth(req);
    return true;
  case CmdId::kClient:
    cmdClient(req);
    return true;
  case CmdId::kSelect:
    cmdSelect(req);
    return true;
  case CmdId::kInfo:
    cmdInfo(req);
    return true;
  case CmdId::kSlowlog:
    cmdSlowlog(req);
    return true;
  case CmdId::kKeywarden:
    cmdKeywarden(req);
    return true;
  case CmdId::kReadonly:
  case CmdId::kReadwrite:
    worker_->stats().commands_local.add();
    replyError("ERR This instance has cluster support disabled");
    return true;
  case CmdId::kSubscribe:
  case CmdId::kMonitor: {
    // From here on the pinned connection streams everything to this client.
    if (!pin())
      return true;
    passthrough_ = true;
    pinned_->enterPassthrough();
    pinned_->state_dirty = true;
    ReplySlot* slot = newSlot();
    slot->effect = SlotEffect::kPassthrough;
    passthrough_slot_ = slot;
    worker_->stats().commands_forwarded.add();
    sendTo(pinned_, req.raw, nullptr, false, /*tracked=*/false);
    return true;
  }
  default:
    break;
  }
  // UNSUBSCRIBE and friends outside pub/sub: answered here, because on a shared RESP3
  // connection Redis would answer with a push frame, which is not a reply to match.
  if (cmd.flags & kPubsub) {
    std::string_view n = req.args[0];
    if (equalsIgnoreCase(n, "unsubscribe") || equalsIgnoreCase(n, "punsubscribe") ||
        equalsIgnoreCase(n, "sunsubscribe")) {
      cmdUnsubscribeLocal(req);
      return true;
    }
  }
  return false;
}

// MULTI/EXEC/DISCARD/WATCH/UNWATCH. Returns true if handled (forwarded or answered).
bool Session::dispatchTransaction(const DecodedRequest& req, const CommandInfo& cmd) {
  switch (cmd.id) {
  case CmdId::kMulti:
    if (!in_multi_) {
      if (!pin())
        return true;
      in_multi_ = true;
      multi_dirty_ = false;
    }
    forward(req, &cmd);
    return true;
  case CmdId::kExec:
  case CmdId::kDiscard: {
    if (in_multi_ && multi_dirty_ && cmd.id == CmdId::kExec) {
      // Upstream queued only what we let through: discard it, and answer as Redis would.
      static const char kDiscard[] = "*1\r\n$7\r\nDISCARD\r\n";
      DecodedRequest discard{std::string_view(kDiscard, sizeof kDiscard - 1), {"DISCARD"}};
      in_multi_ = false;
      watching_ = false;
      multi_dirty_ = false;
      post_exec_.clear();
      post_exec_count_ = 0;
      forward(discard, worker_->commands().find("discard"), SlotEffect::kExecAbort);
      return true;
    }
    const bool was_in_multi = in_multi_;
    in_multi_ = false;
    watching_ = false;
    multi_dirty_ = false;
    ReplySlot* slot = forward(req, &cmd);  // unpinned: Redis answers "EXEC without MULTI"
    if (slot && was_in_multi && cmd.id == CmdId::kExec && post_exec_count_ > 0 && pinned_)
      sendDropped(pinned_, post_exec_, post_exec_count_);
    post_exec_.clear();
    post_exec_count_ = 0;
    return true;
  }
  case CmdId::kWatch:
    if (!in_multi_) {
      if (!pin())
        return true;
      watching_ = true;
    }
    forward(req, &cmd);
    return true;
  case CmdId::kUnwatch:
    watching_ = false;
    if (!pinned_) {
      worker_->stats().commands_local.add();
      replyLocal("+OK\r\n");
      return true;
    }
    forward(req, &cmd);
    return true;
  default:
    return false;
  }
}

void Session::dispatchPassthrough(const DecodedRequest& req, const CommandInfo* cmd) {
  worker_->stats().commands_forwarded.add();
  UpstreamConn* target = pinned_;
  if (!target)
    return;
  sendTo(target, req.raw, nullptr, false, /*tracked=*/false);
  if (cmd && cmd->id == CmdId::kReset) {
    // What follows RESET must be routed by the state after it: wait for "+RESET".
    target->expectReset();
    awaiting_reset_ = true;
    if (reading_) {
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
      reading_ = false;
    }
  }
}

bool Session::isBlocking(const DecodedRequest& req, const CommandInfo* cmd) const {
  if (!cmd || in_multi_)
    return false;
  if (cmd->flags & kBlocking)
    return true;
  if (cmd->id == CmdId::kXread || cmd->id == CmdId::kXreadgroup) {
    for (size_t i = 1; i < req.args.size(); ++i)
      if (equalsIgnoreCase(req.args[i], "block"))
        return true;
  }
  return false;
}

ReplySlot* Session::forward(const DecodedRequest& req, const CommandInfo* cmd, SlotEffect effect,
                            int64_t arg) {
  const bool blocking = isBlocking(req, cmd);
  UpstreamConn* target = pinned_;
  if (!target && blocking) {
    target = pin();
    if (!target)
      return nullptr;
  }
  if (!target) {
    std::string cause;
    target = sharedConn(&cause);
    if (!target) {
      worker_->stats().errors_upstream_down.add();
      replyError("UPSTREAMDOWN upstream " + worker_->shared().upstream_name + " unavailable (" +
                 cause + ")");
      return nullptr;
    }
  }
  ReplySlot* slot = newSlot();
  slot->effect = effect;
  slot->arg = arg;
  worker_->stats().commands_forwarded.add();
  sendTo(target, req.raw, slot, blocking);
  sendFollowups(target);
  return slot;
}

// `slot` receives the reply; nullptr with `tracked` drops it (follow-ups); `tracked` false is
// passthrough mode, where nothing waits for a reply.
void Session::sendTo(UpstreamConn* target, std::string_view raw, ReplySlot* slot, bool blocking,
                     bool tracked) {
  if (!deferred_.empty() || (target != route_conn_ && upstream_inflight_ > 0)) {
    deferred_.push_back({std::string(raw), slot, target, blocking, tracked, 0});
    if (slot)
      slot->upstream = true;
    return;
  }
  route_conn_ = target;
  if (!tracked) {
    target->sendUntracked(raw);
    return;
  }
  if (slot) {
    slot->upstream = true;
    ++upstream_inflight_;
  }
  target->send(raw, slot, blocking);
}

// `count` complete commands whose replies nobody reads (follow-ups), in one append.
void Session::sendDropped(UpstreamConn* target, std::string_view raw, uint32_t count) {
  if (!deferred_.empty() || (target != route_conn_ && upstream_inflight_ > 0)) {
    deferred_.push_back({std::string(raw), nullptr, target, false, true, count});
    return;
  }
  route_conn_ = target;
  target->sendDropped(raw, count);
}

void Session::sendDeferred() {
  while (!deferred_.empty() && !closed_) {
    Deferred& d = deferred_.front();
    if (d.target != route_conn_ && upstream_inflight_ > 0)
      return;
    route_conn_ = d.target;
    if (!d.tracked) {
      d.target->sendUntracked(d.raw);
    } else if (d.dropped > 0) {
      d.target->sendDropped(d.raw, d.dropped);
    } else {
      if (d.slot)
        ++upstream_inflight_;
      d.target->send(d.raw, d.slot, d.blocking);
    }
    deferred_.pop_front();
  }
}

UpstreamConn* Session::sharedConn(std::string* cause) {
  // One shared connection per session while it works: its requests then run in the order sent.
  if (shared_conn_ && shared_conn_->accepting() && shared_conn_->proto() == proto_)
    return shared_conn_;
  shared_conn_ = worker_->upstreams().pickShared(proto_, cause);
  return shared_conn_;
}

UpstreamConn* Session::pin() {
  std::string cause;
  if (!pinned_)
    pinned_ = worker_->upstreams().acquirePinned(proto_, this, &cause);
  if (!pinned_ || !pinned_->accepting()) {
    if (pinned_)
      cause = pinned_->downCause();
    worker_->stats().errors_upstream_down.add();
    replyError("UPSTREAMDOWN upstream " + worker_->shared().upstream_name + " unavailable (" +
               cause + ")");
    return nullptr;
  }
  return pinned_;
}

void Session::maybeReleasePin() {
  if (!pinned_ || in_multi_ || watching_ || passthrough_ || !deferred_.empty())
    return;
  if (db_ != worker_->config().upstream.db || pinned_->inflight() > 0)
    return;
  UpstreamConn* c = pinned_;
  pinned_ = nullptr;
  if (route_conn_ == c)
    route_conn_ = nullptr;
  worker_->upstreams().releasePinned(c);
}

void Session::onPinnedReplyDelivered(UpstreamConn*) {
  maybeReleasePin();
}

void Session::onPinnedLost(UpstreamConn* conn) {
  if (pinned_ != conn)
    return;
  pinned_ = nullptr;
  if (route_conn_ == conn)
    route_conn_ = nullptr;
  worker_->upstreams().pinnedGone(conn);
  // Requests that were waiting to go to it get the same error the in-flight ones got.
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    if (it->target != conn) {
      ++it;
      continue;
    }
    ReplySlot* slot = it->slot;
    it = deferred_.erase(it);
    if (slot) {
      slot->upstream = false;
      complete(slot, "-UPSTREAMDOWN pinned upstream connection lost\r\n");
    }
  }
  in_multi_ = false;
  watching_ = false;
  // A subscriber, or a client whose SELECT lived on that connection, cannot continue safely
  // (it would silently read another db): close it, as Redis would on a lost connection.
  if (passthrough_ || db_ != worker_->config().upstream.db) {
    close_after_flush_ = true;
    markDirty();
  }
  sendDeferred();
}

void Session::onPassthroughFrame(std::string_view bytes) {
  if (closed_)
    return;
  ReplySlot* slot = passthrough_slot_;
  if (slot && slot == head_) {
    emit(bytes);
  } else if (slot) {
    slot->reply.append(bytes);
    stored_bytes_ += bytes.size();
    checkOutputLimit();
  }
  markDirty();
}

void Session::onPassthroughEnded(UpstreamConn* conn) {
  if (passthrough_slot_) {
    // The slot is the head by now unless earlier replies are still missing; either way it is
    // complete: what it buffered goes out in order.
    ReplySlot* slot = passthrough_slot_;
    passthrough_slot_ = nullptr;
    slot->effect = SlotEffect::kNone;
    std::string buffered;
    buffered.swap(slot->reply);
    stored_bytes_ -= std::min(stored_bytes_, buffered.size());
    complete(slot, buffered);
  }
  passthrough_ = false;
  resetConnectionState();
  if (pinned_ == conn) {
    conn->state_dirty = true;
    maybeReleasePin();
  }
  if (awaiting_reset_) {
    awaiting_reset_ = false;
    if (!closed_ && !close_after_flush_ && !worker_->draining()) {
      reading_ = true;
      uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), &Session::onAlloc, &Session::onRead);
      if (!inbuf_.empty())
        processInput(std::string_view());
    }
  }
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
  } else if (reply_mode_ == ReplyMode::kSkipNext) {
    reply_mode_ = ReplyMode::kSkipThis;  // CLIENT REPLY SKIP itself gets no reply
    s->suppress = true;
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
  ReplySlot* slot = newSlot();
  complete(slot, bytes);
}

void Session::replyError(std::string_view msg) {
  // Inside MULTI, an error the proxy gives is a queue-time rejection: like Redis, EXEC then
  // discards the whole transaction.
  if (in_multi_)
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
  Session* s = slot->owner;
  if (!s) {
    worker->slots().put(slot);
    return;
  }
  s->complete(slot, bytes);
}

void Session::complete(ReplySlot* slot, std::string_view bytes) {
  const bool from_upstream = slot->upstream;
  slot->upstream = false;
  slot->external = false;
  std::string transformed;
  switch (slot->effect) {
  case SlotEffect::kInfoMerge:
    transformed = mergeInfo(slot, bytes);
    bytes = transformed;
    break;
  case SlotEffect::kFilterScan:
    transformed = filterScanReply(bytes);
    bytes = transformed;
    break;
  case SlotEffect::kExecAbort:
    if (!bytes.empty() && bytes[0] == '+')
      bytes = "-EXECABORT Transaction discarded because of previous errors.\r\n";
    break;
  case SlotEffect::kThrottle:  // false: sent again after reloading the code (ratelimit_gate.cc)
    if (!throttleReply(slot, &bytes, &transformed))
      return;
    break;
  default:
    break;
  }
  recordCompletion(slot, bytes);
  if (slot->effect == SlotEffect::kSelect && !bytes.empty() && bytes[0] == '+') {
    db_ = static_cast<int>(slot->arg);
    if (pinned_)
      pinned_->db = db_;
  }
  if (slot == head_) {
    if (!slot->suppress)
      emit(bytes);
    popHead();
    drainDone();
  } else if (!over_limit_) {
    slot->reply.assign(bytes.data(), bytes.size());
    slot->done = true;
    stored_bytes_ += bytes.size();
    checkOutputLimit();
  }
  markDirty();
  if (from_upstream && upstream_inflight_ > 0 && --upstream_inflight_ == 0)
    sendDeferred();
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
    if (head_ == passthrough_slot_) {
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
  if (closed_ || over_limit_)
    return;
  writer_.buffer().append(bytes);
  checkOutputLimit();
}

// Only flags the client: closing here would pull the session out from under the delivery that
// is running. flush() closes it at the end of the loop turn.
void Session::checkOutputLimit() {
  if (closed_ || over_limit_)
    return;
  const uint64_t total = writer_.buffered() + stored_bytes_;
  if (total > worker_->config().limits.max_reply_buffer_bytes) {
    over_limit_ = true;
    worker_->stats().clients_output_limit.add();
    KW_LOG_WARN("client %s id=%llu exceeded the reply buffer limit (%llu bytes unread); closing",
                addr_.c_str(), static_cast<unsigned long long>(id_),
                static_cast<unsigned long long>(total));
    markDirty();
  }
}

void Session::markDirty() {
  if (!closed_)
    worker_->markDirty(this);
}

void Session::flush() {
  if (closed_)
    return;
  if (over_limit_) {
    close("reply buffer limit");
    return;
  }
  const uint64_t before = writer_.written();
  int rc = writer_.flush();
  worker_->stats().bytes_out.add(writer_.written() - before);
  if (rc < 0) {
    close(uv_strerror(rc));
    return;
  }
  if (writer_.idle() && (close_after_flush_ || (worker_->draining() && !head_))) {
    // QUIT, a protocol error or a drain: everything owed has been written.
    if (!head_ || close_after_flush_)
      close(nullptr);
  }
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
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
  // Subscribers and monitors have nothing in flight that could finish: close them now.
  if (passthrough_ || !head_)
    close_after_flush_ = true;
  markDirty();
}

bool Session::blockedOrSubscribed() const {
  return passthrough_ || (pinned_ && pinned_->inflight() > 0 && !in_multi_);
}

void Session::close(const char* reason) {
  if (closed_)
    return;
  closed_ = true;
  if (reason)
    KW_LOG_DEBUG("closing client %s id=%llu: %s", addr_.c_str(),
                 static_cast<unsigned long long>(id_), reason);
  if (reading_)
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
  // Slots still waiting on upstream are handed to it (it frees them); the rest go back now.
  for (ReplySlot* s = head_; s;) {
    ReplySlot* next = s->next;
    s->next = nullptr;
    s->owner = nullptr;
    bool in_flight = (s->upstream || s->external) && s->effect != SlotEffect::kPassthrough;
    for (const Deferred& d : deferred_)
      if (d.slot == s)
        in_flight = false;
    if (!in_flight)
      worker_->slots().put(s);
    s = next;
  }
  head_ = tail_ = passthrough_slot_ = nullptr;
  deferred_.clear();
  if (pinned_) {
    UpstreamConn* c = pinned_;
    pinned_ = nullptr;
    worker_->upstreams().releasePinned(c);
  }
  if (admitted_) {
    worker_->shared().releaseClient();
    worker_->stats().clients_connected.add(-1);
    worker_->stats().connections_closed.add();
  }
  worker_->forgetDirty(this);
  worker_->sessionClosed(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &Session::onClosed);
}

void Session::onClosed(uv_handle_t* h) {
  delete static_cast<Session*>(h->data);
}

}  // namespace kw

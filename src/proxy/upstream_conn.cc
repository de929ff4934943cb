#include "proxy/upstream_conn.h"

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/worker.h"

namespace kw {
namespace {

void appendCommand(std::string* out, std::initializer_list<std::string_view> args) {
  resp::arrayHeader(out, static_cast<int64_t>(args.size()));
  for (std::string_view a : args)
    resp::bulk(out, a);
}

}  // namespace

UpstreamConn::UpstreamConn(Worker* worker, int proto, Role role)
    : worker_(worker), proto_(proto), role_(role) {
  uv_timer_init(worker_->loop(), &timer_);
  timer_.data = this;
  db = worker_->config().upstream.db;
}

void UpstreamConn::start() {
  connect();
}

void UpstreamConn::connect() {
  if (destroyed_)
    return;
  if (socket_open_) {  // the previous socket is still closing; state stays kDown
    armTimer(1);
    return;
  }
  state_ = State::kConnecting;
  uv_tcp_init(worker_->loop(), &tcp_);
  tcp_.data = this;
  socket_open_ = true;
  uv_tcp_nodelay(&tcp_, 1);
  writer_.init(reinterpret_cast<uv_stream_t*>(&tcp_), this, &UpstreamConn::onWriteDone);
  connect_req_.data = this;
  connect_started_ms_ = worker_->nowMs();
  int rc = uv_tcp_connect(&connect_req_, &tcp_,
                          reinterpret_cast<const sockaddr*>(&worker_->shared().upstream_addr),
                          &UpstreamConn::onConnect);
  if (rc < 0) {
    fail(uv_strerror(rc));
    return;
  }
  armTimer(worker_->config().upstream.connect_timeout_ms);
}

void UpstreamConn::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<UpstreamConn*>(req->data);
  if (status == UV_ECANCELED || self->destroyed_)
    return;
  if (status < 0) {
    self->fail(uv_strerror(status));
    return;
  }
  self->queueHandshake();
  uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), &UpstreamConn::onAlloc,
                &UpstreamConn::onRead);
  self->worker_->markDirty(self);
}

// The handshake goes in front of any client request queued while connecting; its replies are
// checked (an AUTH failure closes the connection with the upstream's own error as the cause).
void UpstreamConn::queueHandshake() {
  const UpstreamConfig& up = worker_->config().upstream;
  std::string hs;
  std::deque<InFlight> internal;
  const std::string user = up.username.empty() ? "default" : up.username;
  if (proto_ >= 3) {
    if (up.password.empty())
      appendCommand(&hs, {"HELLO", "3"});
    else
      appendCommand(&hs, {"HELLO", "3", "AUTH", user, up.password});
    internal.push_back({nullptr, 0, true, false});
  } else if (!up.password.empty()) {
    if (up.username.empty())
      appendCommand(&hs, {"AUTH", up.password});
    else
      appendCommand(&hs, {"AUTH", up.username, up.password});
    internal.push_back({nullptr, 0, true, false});
  }
  if (up.db != 0) {
    appendCommand(&hs, {"SELECT", std::to_string(up.db)});
    internal.push_back({nullptr, 0, true, false});
  }
  db = up.db;
  std::string name = "keywarden-w" + std::to_string(worker_->index()) +
                     (role_ == Role::kPinned ? "-pinned" : "-shared");
  appendCommand(&hs, {"CLIENT", "SETNAME", name});
  internal.push_back({nullptr, 0, true, false});

  const uint64_t now = uv_hrtime();
  for (auto& f : internal)
    f.sent_ns = now;
  for (auto it = internal.rbegin(); it != internal.rend(); ++it)
    inflight_.push_front(*it);
  hs.append(writer_.buffer());
  writer_.buffer().swap(hs);
  state_ = State::kReady;
  if (failed_before_)
    worker_->stats().upstream_reconnects.add();
  failed_before_ = false;
  backoff_ms_ = 0;
  worker_->stats().upstream_connects.add();
  worker_->stats().upstream_connected.add(1);
  armTimer(std::max<uint32_t>(worker_->config().upstream.request_timeout_ms / 4, 10));
}

void UpstreamConn::send(std::string_view raw, ReplySlot* slot, bool blocking) {
  writer_.buffer().append(raw);
  inflight_.push_back({slot, worker_->nowNs(), false, blocking});
  worker_->stats().upstream_inflight.add(1);
  if (state_ == State::kReady)
    worker_->markDirty(this);
}

void UpstreamConn::flush() {
  if (state_ != State::kReady || destroyed_)
    return;
  int rc = writer_.flush();
  if (rc < 0)
    fail(uv_strerror(rc));
}

void UpstreamConn::onWriteDone(void* owner, int status) {
  auto* self = static_cast<UpstreamConn*>(owner);
  if (status == UV_ECANCELED || self->destroyed_)
    return;
  if (status < 0) {
    self->fail(uv_strerror(status));
    return;
  }
  if (!self->writer_.buffer().empty())
    self->worker_->markDirty(self);
}

void UpstreamConn::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<UpstreamConn*>(h->data);
  buf->base = self->worker_->readBuffer();
  buf->len = Worker::kReadBufferSize;
}

void UpstreamConn::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<UpstreamConn*>(s->data);
  if (nread == 0 || self->destroyed_)
    return;
  if (nread < 0) {
    self->fail(nread == UV_EOF ? "connection closed by upstream"
                               : uv_strerror(static_cast<int>(nread)));
    return;
  }
  self->worker_->stampNow();
  self->consume(std::string_view(buf->base, static_cast<size_t>(nread)));
}

void UpstreamConn::consume(std::string_view data) {
  if (partial_.empty()) {
    // Fast path: frames are delivered straight from the read buffer.
    size_t used = consumeFrames(data);
    if (used < data.size() && state_ == State::kReady)
      partial_.assign(data.substr(used));
    return;
  }
  partial_.append(data);
  size_t used = consumeFrames(partial_);
  if (state_ != State::kReady)
    return;
  if (used == partial_.size()) {
    partial_.clear();
    if (partial_.capacity() > (1u << 20))
      std::string().swap(partial_);
  } else if (used > 0) {
    partial_.erase(0, used);
  }
}

// Returns the bytes consumed. Stops early if the connection failed while delivering.
size_t UpstreamConn::consumeFrames(std::string_view data) {
  size_t off = 0;
  while (off < data.size() && state_ == State::kReady) {
    ReplyScanner::Frame frame;
    auto st = scanner_.scan(data.substr(off), &frame);
    if (st == ReplyScanner::Status::kNeedMore)
      break;
    if (st == ReplyScanner::Status::kError) {
      KW_LOG_ERROR("upstream sent malformed RESP (%s); dropping the connection", scanner_.error());
      fail("malformed reply from upstream");
      return data.size();
    }
    scanner_.reset();
    std::string_view bytes = data.substr(off, frame.length);
    off += frame.length;
    deliverFrame(bytes, frame);
  }
  return off;
}

void UpstreamConn::deliverFrame(std::string_view bytes, const ReplyScanner::Frame& frame) {
  // Pub/sub messages, MONITOR lines and pushes stream to the pinned owner; push frames never
  // answer a request.
  if (passthrough_ && owner_ && (inflight_.empty() || frame.is_push)) {
    Session* owner = owner_;
    owner->onPassthroughFrame(bytes);
    if (reset_expected_ && bytes == "+RESET\r\n") {
      reset_expected_ = false;
      passthrough_ = false;
      state_dirty = true;  // RESET dropped our AUTH/HELLO: never reuse this connection
      owner->onPassthroughEnded(this);
    }
    return;
  }
  if (frame.is_push) {
    worker_->stats().upstream_unexpected_push.add();
    return;
  }
  if (inflight_.empty()) {
    // A reply nobody asked for: the stream is out of step with our queue, which would mean
    // answering the wrong request. Drop the connection instead.
    KW_LOG_ERROR("upstream sent a reply with no request waiting; dropping the connection");
    fail("unexpected reply from upstream");
    return;
  }
  InFlight head = inflight_.front();
  inflight_.pop_front();
  if (head.internal) {
    if (!bytes.empty() && (bytes[0] == '-' || bytes[0] == '!')) {
      size_t eol = bytes.find('\r');
      std::string cause = "handshake failed: ";
      cause.append(bytes.substr(1, eol == std::string_view::npos ? bytes.size() - 1 : eol - 1));
      KW_LOG_ERROR("upstream %s", cause.c_str());
      fail(cause);
    }
    return;
  }
  worker_->stats().upstream_inflight.add(-1);
  if (!head.blocking)
    worker_->metrics().recordUpstreamRtt(worker_->nowNs() - head.sent_ns);
  Session::deliver(worker_, head.slot, bytes);
  if (owner_ && role_ == Role::kPinned)
    owner_->onPinnedReplyDelivered(this);
}

void UpstreamConn::sendDropped(std::string_view raw, uint32_t count) {
  writer_.buffer().append(raw);
  for (uint32_t i = 0; i < count; ++i)
    inflight_.push_back({nullptr, worker_->nowNs(), false, false});
  worker_->stats().upstream_inflight.add(count);
  if (state_ == State::kReady)
    worker_->markDirty(this);
}

void UpstreamConn::sendUntracked(std::string_view raw) {
  writer_.buffer().append(raw);
  if (state_ == State::kReady)
    worker_->markDirty(this);
}

void UpstreamConn::fail(std::string_view cause) {
  if (state_ == State::kDown || state_ == State::kClosed)
    return;
  const bool was_ready = state_ == State::kReady;
  if (was_ready && destroyed_) {
    worker_->stats().upstream_connected.add(-1);
  } else if (was_ready) {
    worker_->stats().upstream_connected.add(-1);
    KW_LOG_WARN("upstream %s connection lost: %.*s", worker_->shared().upstream_name.c_str(),
                static_cast<int>(cause.size()), cause.data());
  } else {
    worker_->stats().upstream_connect_failures.add();
    // Warn once per outage; each retry of the same outage is only debug noise.
    if (!failed_before_ || down_cause_ != cause)
      KW_LOG_WARN("upstream %s unavailable: %.*s", worker_->shared().upstream_name.c_str(),
                  static_cast<int>(cause.size()), cause.data());
    else
      KW_LOG_DEBUG("upstream %s still unavailable: %.*s", worker_->shared().upstream_name.c_str(),
                   static_cast<int>(cause.size()), cause.data());
  }
  down_cause_.assign(cause);
  state_ = destroyed_ ? State::kClosed : State::kDown;
  failed_before_ = true;
  closeSocket();

  // Error replies go into each waiting slot, in order. Writes are never retried: the command
  // may or may not have run.
  std::deque<InFlight> lost;
  lost.swap(inflight_);
  std::string err;
  for (const InFlight& f : lost) {
    if (f.internal)
      continue;
    worker_->stats().upstream_inflight.add(-1);
    worker_->stats().errors_upstream_lost.add();
    err.clear();
    err.append("-UPSTREAMDOWN connection to upstream ");
    err.append(worker_->shared().upstream_name);
    err.append(" lost (");
    err.append(cause);
    err.append("); the command may or may not have run\r\n");
    Session::deliver(worker_, f.slot, err);
  }
  writer_.buffer().clear();
  partial_.clear();
  scanner_.reset();
  passthrough_ = false;

  if (role_ == Role::kPinned || destroyed_) {
    if (role_ == Role::kPinned)
      worker_->upstreams().pinnedGone(this);
    Session* owner = owner_;
    owner_ = nullptr;
    if (owner)
      owner->onPinnedLost(this);
    if (!destroyed_)
      destroy(cause);
    return;
  }
  scheduleReconnect();
}

void UpstreamConn::scheduleReconnect() {
  const UpstreamConfig& up = worker_->config().upstream;
  backoff_ms_ = backoff_ms_ == 0 ? up.reconnect_backoff_min_ms
                                 : std::min(backoff_ms_ * 2, up.reconnect_backoff_max_ms);
  armTimer(backoff_ms_);
}

void UpstreamConn::armTimer(uint64_t ms) {
  uv_timer_stop(&timer_);
  uv_timer_start(&timer_, &UpstreamConn::onTimer, ms, 0);
}

void UpstreamConn::onTimer(uv_timer_t* t) {
  auto* self = static_cast<UpstreamConn*>(t->data);
  if (self->destroyed_)
    return;
  switch (self->state_) {
  case State::kConnecting:
    self->fail("connect timeout");
    return;
  case State::kDown:
    self->connect();
    return;
  case State::kReady:
    self->checkTimeouts();
    return;
  case State::kClosed:
    return;
  }
}

// Replies come back in order, so one late reply holds up everything behind it: past the request
// timeout the connection is declared broken and every waiting request gets an error.
void UpstreamConn::checkTimeouts() {
  const UpstreamConfig& up = worker_->config().upstream;
  const uint64_t now = uv_hrtime();
  if (!inflight_.empty()) {
    const InFlight& head = inflight_.front();
    if (!head.blocking && now - head.sent_ns > uint64_t{up.request_timeout_ms} * 1000000) {
      worker_->stats().errors_timeout.add();
      fail("request timeout");
      return;
    }
  }
  armTimer(std::max<uint32_t>(up.request_timeout_ms / 4, 10));
}

void UpstreamConn::closeSocket() {
  uv_timer_stop(&timer_);
  if (!socket_open_)
    return;
  auto* h = reinterpret_cast<uv_handle_t*>(&tcp_);
  if (!uv_is_closing(h)) {
    ++pending_closes_;
    uv_close(h, &UpstreamConn::onClosed);
  }
}

void UpstreamConn::destroy(std::string_view cause) {
  if (destroyed_)
    return;
  if (state_ == State::kReady || state_ == State::kConnecting) {
    destroyed_ = true;
    fail(cause);
  }
  destroyed_ = true;
  state_ = State::kClosed;
  worker_->forgetDirty(this);
  closeSocket();
  ++pending_closes_;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &UpstreamConn::onClosed);
}

void UpstreamConn::onClosed(uv_handle_t* h) {
  auto* self = static_cast<UpstreamConn*>(h->data);
  if (h == reinterpret_cast<uv_handle_t*>(&self->tcp_))
    self->socket_open_ = false;
  if (--self->pending_closes_ == 0 && self->destroyed_)
    delete self;
}

}  // namespace kw

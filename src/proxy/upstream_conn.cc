#include "proxy/upstream_conn.h"

#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "common/log.h"
#include "proxy/client_tls.h"
#include "proxy/reply_slot.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/topology_source.h"
#include "proxy/upstream_client.h"
#include "proxy/upstream_errors.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace kw {
namespace {

void appendCommand(std::string* out, std::initializer_list<std::string_view> args) {
  resp::arrayHeader(out, static_cast<int64_t>(args.size()));
  for (std::string_view a : args)
    resp::bulk(out, a);
}

// The "id" field of a HELLO reply (a map in RESP3, a flat array in RESP2): -1 if absent.
int64_t helloId(std::string_view reply) {
  static constexpr std::string_view kKey = "\r\n$2\r\nid\r\n:";
  const size_t at = reply.find(kKey);
  if (at == std::string_view::npos)
    return -1;
  const char* p = reply.data() + at + kKey.size();
  int64_t id = -1;
  auto r = std::from_chars(p, reply.data() + reply.size(), id);
  return r.ec == std::errc() ? id : -1;
}

std::string_view firstLine(std::string_view bytes) {
  const size_t eol = bytes.find('\r');
  return bytes.substr(0, eol == std::string_view::npos ? bytes.size() : eol);
}

}  // namespace

UpstreamConn::UpstreamConn(Worker* worker, UpstreamPool* pool, int proto, Role role)
    : worker_(worker), pool_(pool), node_stats_(worker->stats().node(pool->node())), proto_(proto),
      pool_proto_(proto), role_(role) {
  uv_timer_init(worker_->loop(), &timer_);
  timer_.data = this;
  db_ = worker_->config().upstream.db;
}

UpstreamConn::~UpstreamConn() = default;

std::string_view UpstreamConn::tlsVersion() const {
  return tls_ && connected_ ? tls_->channel().version() : std::string_view();
}

bool UpstreamConn::tlsResumed() const {
  return tls_ && connected_ && tls_->channel().resumed();
}

bool UpstreamConn::unixSocket() const {
  return pool_->address().ss_family == AF_UNIX;
}

void UpstreamConn::start() {
  connect();
}

void UpstreamConn::reconnectNow() {
  if (state_ != State::kDown || destroyed_)
    return;
  failed_before_ = false;  // requests queue behind the new attempt instead of failing at once
  backoff_ms_ = 0;
  uv_timer_stop(&timer_);
  connect();
}

bool UpstreamConn::blockingInFlight() const {
  return std::any_of(inflight_.begin(), inflight_.end(),
                     [](const InFlight& f) { return f.blocking; });
}

void UpstreamConn::connect() {
  if (destroyed_)
    return;
  if (socket_open_) {  // the previous socket is still closing; state stays kDown
    armTimer(1);
    return;
  }
  state_ = State::kConnecting;
  mode_ = LinkMode::kFramed;
  proto_ = pool_proto_;
  read_paused_ = false;
  tls_.reset();  // the previous socket's channel (its handle is closed: no write in flight)
  tls_heard_ = false;
  const bool unix_socket = unixSocket();
  if (unix_socket)
    uv_pipe_init(worker_->loop(), &handle_.pipe, 0);
  else
    uv_tcp_init(worker_->loop(), &handle_.tcp);
  stream()->data = this;
  socket_open_ = true;
  writer_.init(stream(), this, &UpstreamConn::onWriteDone, &worker_->chunks());
  connect_req_.data = this;
  armTimer(worker_->config().upstream.connect_timeout_ms);
  if (unix_socket) {
    // (uv_pipe_connect reports every error through onConnect.)
    const auto* un = reinterpret_cast<const sockaddr_un*>(&pool_->address());
    uv_pipe_connect(&connect_req_, &handle_.pipe, un->sun_path, &UpstreamConn::onConnect);
    return;
  }
  uv_tcp_nodelay(&handle_.tcp, 1);
  const int rc = uv_tcp_connect(&connect_req_, &handle_.tcp,
                                reinterpret_cast<const sockaddr*>(&pool_->address()),
                                &UpstreamConn::onConnect);
  if (rc < 0)
    fail(uv_strerror(rc));
}

void UpstreamConn::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<UpstreamConn*>(req->data);
  if (status == UV_ECANCELED || self->destroyed_)
    return;
  if (status < 0) {
    self->fail(uv_strerror(status));
    return;
  }
  self->connected_ = true;
  if (self->worker_->config().upstream.tls.enabled) {
    if (!self->startTls())
      return;
  } else {
    self->queueHandshake();
  }
  self->startReading();
  self->worker_->markDirty(self);
}

// The TLS handshake comes first; the RESP handshake is queued when it completes (onTlsRead).
bool UpstreamConn::startTls() {
  std::shared_ptr<const TlsContext> context = worker_->shared().tls.upstreamContext();
  if (!context) {
    fail("TLS handshake failed: no TLS context for the upstream");
    return false;
  }
  tls_ = std::make_unique<ClientTls>(
      TlsChannel::connect(std::move(context), tlsServerName(), pool_->name()), stream(), this,
      &UpstreamConn::onWriteDone);
  if (tls_->channel().failed()) {
    failTls();
    return false;
  }
  return true;
}

// upstream.tls_server_name, else the host the node is reached at ("host:port", "[v6]:port").
std::string UpstreamConn::tlsServerName() const {
  const std::string& configured = worker_->config().upstream.tls.server_name;
  if (!configured.empty())
    return configured;
  std::string_view host = pool_->name();
  const size_t colon = host.rfind(':');
  if (colon != std::string_view::npos)
    host = host.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return std::string(host);
}

void UpstreamConn::onTlsRead(std::string_view ciphertext) {
  switch (tls_->feed(ciphertext)) {
  case ClientTls::Progress::kFailed:
    return failTls();
  case ClientTls::Progress::kHandshaking:
    if (!tls_->idle())
      worker_->markDirty(this);  // the channel's next flight goes out at this turn's flush
    return;
  case ClientTls::Progress::kEstablished:
    worker_->stats().upstream_tls_handshakes.add();
    if (tls_->channel().resumed())
      worker_->stats().upstream_tls_resumed.add();
    queueHandshake();
    worker_->markDirty(this);
    break;
  case ClientTls::Progress::kOpen:
    break;
  }
  // Everything the channel can decrypt now, framed as a plaintext read's bytes would be.
  while (state_ == State::kReady) {
    size_t room = 0;
    char* at = readRoom(&room);
    const size_t n = tls_->read(at, room);
    if (n == 0)
      break;
    tls_heard_ = true;
    received(at, n);
  }
  if (state_ != State::kReady)
    return;
  if (tls_->channel().failed())
    return failTls();  // a corrupt record, an alert from Redis
  if (tls_->peerClosed())
    return fail("connection closed by upstream");
  if (!tls_->idle())
    worker_->markDirty(this);  // answers to key updates
}

// Under TLS 1.3 the client's side of the handshake is done before Redis has checked the client's
// certificate: a refusal (no certificate, an untrusted one) arrives as an alert after it. Until
// Redis has sent any plaintext, a failure is therefore the handshake's.
void UpstreamConn::failTls() {
  const TlsChannel& channel = tls_->channel();
  tls_->writeFinal();  // the alert that tells Redis why
  const bool handshake = !channel.handshakeDone() || !tls_heard_;
  std::string cause = handshake ? "TLS handshake failed: " : "TLS error: ";
  cause += channel.failureReason();
  if (handshake)
    worker_->stats().upstream_tls_handshake_failures.add();
  fail(cause);
}

// A read or write error. Over TLS before Redis sent any plaintext, Redis refused the handshake
// (without an alert, or after one this end could not read): said and counted as such.
void UpstreamConn::failSocket(std::string_view cause) {
  if (!tls_ || tls_heard_) {
    fail(cause);
    return;
  }
  worker_->stats().upstream_tls_handshake_failures.add();
  std::string text = "TLS handshake failed: ";
  text.append(cause);
  fail(text);
}

void UpstreamConn::startReading() {
  if (reading_ || read_paused_ || !socket_open_ || !connected_)
    return;
  if (state_ != State::kReady && !(state_ == State::kConnecting && tls_))
    return;
  if (uv_read_start(stream(), &UpstreamConn::onAlloc, &UpstreamConn::onRead) == 0)
    reading_ = true;
}

void UpstreamConn::pauseReading(bool paused) {
  if (paused == read_paused_)
    return;
  read_paused_ = paused;
  if (paused) {
    if (reading_)
      uv_read_stop(stream());
    reading_ = false;
    return;
  }
  // Time spent waiting for the client is not the upstream's: the timeout starts again.
  last_progress_ns_ = uv_hrtime();
  startReading();
}

// HELLO with SETNAME is one command Redis accepts even while a script keeps it busy (CLIENT
// SETNAME is refused with -BUSY then), so a new connection can still carry SCRIPT KILL.
std::string UpstreamConn::localAddr() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (!socket_open_ || unixSocket() ||
      uv_tcp_getsockname(&handle_.tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return {};
  char host[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    uv_ip4_name(a, host, sizeof host);
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    uv_ip6_name(a, host, sizeof host);
    port = ntohs(a->sin6_port);
    std::string out = "[";  // as Redis writes it
    out.append(host);
    out.append("]:");
    out.append(std::to_string(port));
    return out;
  }
  return {};
}

// Redis's CLIENT LIST names each connection by its peer's address, which is this end's: the line
// with addr=<ours> has our id. CLIENT LIST is an admin command, which MONITOR never shows. The
// link may be gone when the answer comes, so it is looked up again by that address.
void UpstreamConn::learnId() {
  if (upstream_id_ >= 0 || learning_id_ || state_ != State::kReady)
    return;
  const std::string addr = localAddr();
  if (addr.empty())
    return;
  learning_id_ = true;
  Worker* worker = worker_;
  worker_->upstreamClient().sendTo(
      pool_->node(), {"CLIENT", "LIST"}, [worker, addr](std::string_view reply) {
        int64_t id = -1;
        const std::string needle = " addr=" + addr + " ";
        const size_t at = reply.find(needle);
        if (at != std::string_view::npos) {
          const size_t line = reply.rfind("id=", at);
          if (line != std::string_view::npos)
            id = std::strtoll(std::string(reply.substr(line + 3, 20)).c_str(), nullptr, 10);
        }
        struct Found {
          const std::string* addr;
          int64_t id;
        } found{&addr, id};
        worker->upstreams().forEach(
            [](UpstreamConn* c, void* arg) {
              auto* f = static_cast<Found*>(arg);
              if (c->learning_id_ && c->localAddr() == *f->addr) {
                c->learning_id_ = false;
                if (f->id > 0)
                  c->upstream_id_ = f->id;
              }
            },
            &found);
      });
}

// Not over a Unix socket: Redis shows every client of one as "/path:0", so a quiet link's id
// could not be learned from CLIENT LIST by its address; HELLO tells it instead.
bool UpstreamConn::quietHandshake() const {
  return role_ == Role::kPinned && pool_proto_ == 2 && pool_->identity().password.empty() &&
         worker_->config().upstream.db == 0 && !unixSocket();
}

void UpstreamConn::appendHandshake(std::string* out, std::deque<InFlight>* checks) {
  const UpstreamIdentity& id = pool_->identity();
  db_ = worker_->config().upstream.db;
  // A pinned link that needs nothing set (RESP2, no AUTH, db 0) sends nothing at all: a link made
  // while a client watches MONITOR or SLOWLOG is then invisible there, as a direct client's
  // connection is. It has no name, and its id is learned when asked for (learnId). The topology
  // source's link check (sentinel: ROLE) is sent all the same.
  const TopologySource* source = worker_->shared().topology_source;
  const std::string_view probe = source ? source->linkCheckCommand() : std::string_view();
  if (quietHandshake()) {
    if (!probe.empty()) {
      out->append(probe);
      checks->push_back({nullptr, 0, Check::kLinkCheck, true, false, false});
    }
    return;
  }
  // The link's own protocol: a HELLO the owner had sent meanwhile (queued behind this handshake)
  // switches it later, in order.
  const std::string proto = std::to_string(pool_proto_);
  const std::string name = "keywarden-w" + std::to_string(worker_->index()) +
                           (role_ == Role::kPinned ? "-pinned" : "-shared");
  if (id.password.empty())
    appendCommand(out, {"HELLO", proto, "SETNAME", name});
  else
    appendCommand(out, {"HELLO", proto, "AUTH", id.user.empty() ? "default" : id.user, id.password,
                        "SETNAME", name});
  checks->push_back({nullptr, 0, Check::kHello, true, false, false});
  const int db = worker_->config().upstream.db;
  if (db != 0) {
    appendCommand(out, {"SELECT", std::to_string(db)});
    checks->push_back({nullptr, 0, Check::kOk, true, false, false});
  }
  if (!probe.empty()) {
    out->append(probe);
    checks->push_back({nullptr, 0, Check::kLinkCheck, true, false, false});
  }
}

// The handshake goes in front of any client request queued while connecting.
void UpstreamConn::queueHandshake() {
  std::string hs;
  std::deque<InFlight> checks;
  appendHandshake(&hs, &checks);
  const uint64_t now = uv_hrtime();
  for (auto it = checks.rbegin(); it != checks.rend(); ++it) {
    it->sent_ns = now;
    inflight_.push_front(*it);
  }
  head_since_ns_ = last_progress_ns_ = now;
  writer_.prepend(hs);
  state_ = State::kReady;
  unproven_ = failed_before_ && std::any_of(checks.begin(), checks.end(), [](const InFlight& f) {
                return f.check == Check::kLinkCheck;
              });
  if (failed_before_)
    worker_->stats().upstream_reconnects.add();
  failed_before_ = false;
  worker_->stats().upstream_connects.add();
  worker_->stats().upstream_connected.add(1);
  armTimer(std::max<uint32_t>(worker_->config().upstream.request_timeout_ms / 4, 10));
}

void UpstreamConn::beginReset() {
  pauseReading(false);  // its last owner may have left while not reading
  // Whatever a client left on this connection (MULTI, WATCH, SELECT, HELLO 3, tracking, a name,
  // CLIENT REPLY, its AUTH) is undone by RESET; the handshake then puts back ours. Each reply is
  // checked; the last one tells the pool the connection is clean.
  std::string cmds;
  std::deque<InFlight> checks;
  appendCommand(&cmds, {"RESET"});
  checks.push_back({nullptr, 0, Check::kReset, true, false, false});
  proto_ = pool_proto_;
  appendHandshake(&cmds, &checks);
  checks.back().ends_reset = true;
  const uint64_t now = worker_->nowNs();
  for (InFlight& f : checks) {
    f.sent_ns = now;
    push(f);
  }
  queue(cmds);
}

void UpstreamConn::push(const InFlight& f) {
  if (inflight_.empty())
    head_since_ns_ = f.sent_ns;
  inflight_.push_back(f);
}

void UpstreamConn::popHead() {
  inflight_.pop_front();
  head_since_ns_ = worker_->nowNs();
}

void UpstreamConn::queue(std::string_view raw) {
  if (SharedBlock* block = worker_->sharedOwnerOf(raw))
    writer_.appendShared(block, raw);  // a large request, written from where it was read
  else
    writer_.append(raw);
  if (state_ == State::kReady)
    worker_->markDirty(this);
}

void UpstreamConn::send(std::string_view raw, ReplySlot* slot, bool blocking) {
  push({slot, worker_->nowNs(), Check::kNone, false, blocking, false});
  worker_->stats().upstream_inflight.add(1);
  if (node_stats_)
    node_stats_->requests.add();
  queue(raw);
}

void UpstreamConn::sendDropped(std::string_view raw, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i)
    push({nullptr, worker_->nowNs(), Check::kNone, false, false, false});
  worker_->stats().upstream_inflight.add(count);
  queue(raw);
}

void UpstreamConn::startStreaming(std::string_view raw) {
  mode_ = LinkMode::kStreaming;
  queue(raw);
}

void UpstreamConn::sendStreaming(std::string_view raw) {
  queue(raw);
}

void UpstreamConn::expectStreamReset(std::string_view token) {
  stream_end_.clear();
  resp::bulk(&stream_end_, token);
}

void UpstreamConn::startRaw(std::string_view raw) {
  mode_ = LinkMode::kRaw;
  // Redis refuses SYNC/PSYNC while a reply to this connection is still unsent ("invalid with
  // pending output"): it waits until every handshake reply is in.
  if (inflight_.empty() && state_ == State::kReady)
    queue(raw);
  else
    raw_waiting_.append(raw);
}

void UpstreamConn::sendRaw(std::string_view bytes) {
  if (!raw_waiting_.empty())
    raw_waiting_.append(bytes);
  else
    queue(bytes);
}

void UpstreamConn::flush() {
  if (destroyed_ || !connected_)
    return;
  // While TLS is handshaking (kConnecting), only the channel's own flights leave.
  if (state_ != State::kReady && !(state_ == State::kConnecting && tls_))
    return;
  const uint64_t before = writer_.written();
  const int rc = tls_ ? tls_->flush(&writer_) : writer_.flush();
  if (rc < 0) {
    if (tls_ && tls_->channel().failed())
      failTls();
    else
      failSocket(uv_strerror(rc));
    return;
  }
  if (writer_.written() != before) {
    last_progress_ns_ = uv_hrtime();
    worker_->upstreamDrained(writer_.buffered());
  }
}

void UpstreamConn::onWriteDone(void* owner, int status) {
  auto* self = static_cast<UpstreamConn*>(owner);
  if (status == UV_ECANCELED || self->destroyed_)
    return;
  if (status < 0) {
    self->failSocket(uv_strerror(status));
    return;
  }
  self->last_progress_ns_ = uv_hrtime();
  self->worker_->upstreamDrained(self->writer_.buffered());
  if (self->writer_.buffered() > 0 || (self->tls_ && !self->tls_->idle()))
    self->worker_->markDirty(self);
}

// While an incomplete reply is kept, the next bytes are read in place behind it, with room for
// the whole bulk being waited for when the scanner knows its size.
// Over TLS, ciphertext always goes to the worker's buffer (the channel copies it) and the
// plaintext is decrypted to where readRoom says.
void UpstreamConn::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<UpstreamConn*>(h->data);
  if (self->tls_) {
    buf->base = self->worker_->readBuffer();
    buf->len = Worker::kReadBufferSize;
    return;
  }
  size_t room = 0;
  buf->base = self->readRoom(&room);
  buf->len = room;
}

char* UpstreamConn::readRoom(size_t* room) {
  if (partial_.empty()) {
    *room = Worker::kReadBufferSize;
    return worker_->readBuffer();
  }
  const size_t have = partial_.size();
  const size_t need = need_hint_ > have ? need_hint_ - have : 0;
  return partial_.reserve(std::max(need, Worker::kReadBufferSize), room);
}

void UpstreamConn::received(const char* at, size_t n) {
  if (at == worker_->readBuffer()) {
    consume(std::string_view(at, n));
  } else {
    partial_.commit(n);
    consume(std::string_view());
  }
}

void UpstreamConn::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<UpstreamConn*>(s->data);
  if (nread == 0 || self->destroyed_)
    return;
  if (nread < 0) {
    self->failSocket(nread == UV_EOF ? "connection closed by upstream"
                                     : uv_strerror(static_cast<int>(nread)));
    return;
  }
  self->worker_->stampNow();
  self->last_progress_ns_ = self->worker_->nowNs();
  if (self->tls_)
    self->onTlsRead(std::string_view(buf->base, static_cast<size_t>(nread)));
  else
    self->received(buf->base, static_cast<size_t>(nread));
}

// `data`: bytes read into the worker's buffer; empty when they were read into partial_.
void UpstreamConn::consume(std::string_view data) {
  if (through_left_ > 0 && !data.empty()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(through_left_, data.size()));
    passThrough(data.substr(0, n));
    data.remove_prefix(n);
    if (data.empty() || state_ != State::kReady)
      return;
  }
  if (partial_.empty()) {
    // Fast path: frames are delivered straight from the read buffer.
    size_t used = consumeFrames(data);
    if (used < data.size() && state_ == State::kReady)
      partial_.append(data.substr(used));
    return;
  }
  if (!data.empty())
    partial_.append(data);
  // A delivery may fail this very link (a pinned link its client released, found not clean, is
  // destroyed at once), and failing releases partial_: the frames being delivered live in its
  // block, so the block is kept until they all are.
  SharedBlock* block = partial_.block();
  block->ref();
  Worker::BytesOwnerScope owner(worker_, block);
  size_t used = consumeFrames(partial_.view());
  const bool ready = state_ == State::kReady;
  block->unref();
  if (!ready)
    return;
  partial_.consume(used);
}

// Returns the bytes consumed. Stops early if the connection failed while delivering.
size_t UpstreamConn::consumeFrames(std::string_view data) {
  size_t off = 0;
  while (off < data.size() && state_ == State::kReady) {
    if (mode_ == LinkMode::kRaw && inflight_.empty()) {
      // Past the handshake, a replication stream is bytes (an RDB payload has no CRLF after it).
      if (owner_)
        owner_->onStreamBytes(data.substr(off));
      return data.size();
    }
    ReplyScanner::Frame frame;
    auto st = scanner_.scan(data.substr(off), &frame);
    if (st == ReplyScanner::Status::kNeedMore) {
      if (startPassThrough(data.substr(off)))
        return data.size();
      need_hint_ = scanner_.needHint();
      break;
    }
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

bool UpstreamConn::checkInternal(const InFlight& head, std::string_view bytes) {
  switch (head.check) {
  case Check::kHello:
    // A map (RESP3) or a flat array (RESP2) of the server's properties.
    if (bytes.empty() || (bytes[0] != '%' && bytes[0] != '*'))
      return false;
    upstream_id_ = helloId(bytes);
    return true;
  case Check::kOk:
    return bytes == "+OK\r\n";
  case Check::kReset:
    return bytes == "+RESET\r\n";
  case Check::kNone:
    return bytes.empty() || (bytes[0] != '-' && bytes[0] != '!');
  case Check::kLinkCheck:
    return true;  // (deliverFrame asks the topology source)
  }
  return false;
}

void UpstreamConn::deliverFrame(std::string_view bytes, const ReplyScanner::Frame& frame) {
  // Pub/sub messages, MONITOR lines and pushes stream to the owner; push frames never answer a
  // request.
  if (mode_ == LinkMode::kStreaming && (inflight_.empty() || frame.is_push)) {
    if (!owner_)
      return;  // released: nobody listens any more (the link is closed, never pooled)
    LinkOwner* owner = owner_;
    if (!stream_end_.empty() && bytes == stream_end_) {
      // The owner's RESET ran: this connection is back to a fresh state.
      stream_end_.clear();
      mode_ = LinkMode::kFramed;
      proto_ = 2;
      owner->onStreamEnded(this);
      return;
    }
    owner->onStreamBytes(bytes);
    return;
  }
  if (frame.is_push) {
    if (owner_ && role_ == Role::kPinned) {
      // A link of one client's (a RESP3 REDIRECT target): Redis pushes the invalidations to it,
      // as to a direct client. Every reply before it on the link is in, so it goes out now.
      owner_->onStreamBytes(bytes);
      return;
    }
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
  popHead();
  if (head.internal && head.check == Check::kLinkCheck) {
    // The node must be what the topology says (sentinel: the master). A link that reached a
    // replica (a demoted master, a stale address) is closed, and the source looks again.
    std::string why;
    const TopologySource* source = worker_->shared().topology_source;
    if (source && !source->linkCheckPasses(bytes, &why)) {
      worker_->stats().upstream_not_master.add();
      KW_LOG_WARN("upstream %s refused: %s", pool_->name().c_str(), why.c_str());
      worker_->requestTopologyRefresh(RefreshCause::kNotMaster);
      if (head.ends_reset)
        worker_->stats().pinned_resets_failed.add();
      fail(why);
      return;
    }
    unproven_ = false;
    if (head.ends_reset) {
      stateful_ = false;
      pool_->onResetDone(this, true);
    }
    if (inflight_.empty() && !raw_waiting_.empty()) {
      queue(raw_waiting_);
      raw_waiting_.clear();
    }
    return;
  }
  if (head.internal) {
    if (!checkInternal(head, bytes)) {
      std::string cause = "handshake failed: ";
      cause.append(firstLine(bytes.substr(bytes.empty() ? 0 : 1)).substr(0, 200));
      KW_LOG_ERROR("upstream %s", cause.c_str());
      if (head.check == Check::kReset || head.ends_reset)
        worker_->stats().pinned_resets_failed.add();
      fail(cause);
      return;
    }
    // The backoff starts over only once Redis accepted the handshake: a connection it refuses
    // (WRONGPASS for a deleted user) is not retried every reconnect_backoff_min_ms.
    if (head.check == Check::kHello)
      backoff_ms_ = 0;
    if (head.check == Check::kHello && was_down_ && role_ == Role::kShared) {
      was_down_ = false;
      KW_LOG_WARN("upstream %s is back (unavailable for %llu ms)", pool_->name().c_str(),
                  static_cast<unsigned long long>(worker_->nowMs() - down_since_ms_));
    }
    if (head.ends_reset) {
      stateful_ = false;
      pool_->onResetDone(this, true);
    }
    if (inflight_.empty() && !raw_waiting_.empty()) {
      queue(raw_waiting_);
      raw_waiting_.clear();
    }
    return;
  }
  worker_->stats().upstream_inflight.add(-1);
  if (!head.blocking)
    noteRtt(worker_->nowNs() - head.sent_ns);
  // A demoted master answers writes with -READONLY: that reply is the write's answer, and nothing
  // more goes to this node until the topology says it is a master again.
  const TopologySource* source = worker_->shared().topology_source;
  const bool stale = !bytes.empty() && (bytes[0] == '-' || bytes[0] == '!') && source &&
                     source->staleNodeReply(bytes);
  Session::deliver(worker_, head.slot, bytes);
  if (stale && state_ == State::kReady && !destroyed_) {
    worker_->stats().upstream_readonly_closed.add();
    worker_->requestTopologyRefresh(RefreshCause::kReadonly);
    fail("the node answered -READONLY: it is a replica now");
    return;
  }
  if (owner_ && role_ == Role::kPinned)
    owner_->onLinkReply(this);
}

bool UpstreamConn::startPassThrough(std::string_view partial) {
  if (mode_ != LinkMode::kFramed || inflight_.empty() || partial.size() < 4 || partial[0] != '$')
    return false;
  const InFlight& head = inflight_.front();
  if (head.internal || !head.slot || !head.slot->owner)
    return false;
  const size_t cr = partial.find("\r\n");
  if (cr == std::string_view::npos || cr < 2 || cr > 21)
    return false;
  uint64_t len = 0;
  for (char c : partial.substr(1, cr - 1)) {
    if (c < '0' || c > '9')
      return false;  // a null bulk, or garbage the scanner reports
    len = len * 10 + static_cast<uint64_t>(c - '0');
  }
  const uint64_t total = cr + 2 + len + 2;
  if (total < kPassThroughMin || partial.size() >= total)
    return false;
  if (!head.slot->owner->beginStreamedReply(head.slot))
    return false;
  worker_->stats().upstream_passthrough_replies.add();
  through_left_ = total;
  scanner_.reset();
  passThrough(partial);
  return true;
}

// The head reply is passed on as it arrives. Its last part completes it: the head is popped
// before the client hears of it, so whatever the client sends next queues behind a consistent
// in-flight list.
void UpstreamConn::passThrough(std::string_view part) {
  ReplySlot* slot = inflight_.front().slot;
  through_left_ -= part.size();
  const bool last = through_left_ == 0;
  if (last) {
    const uint64_t sent = inflight_.front().sent_ns;
    popHead();
    worker_->stats().upstream_inflight.add(-1);
    noteRtt(worker_->nowNs() - sent);
  }
  if (slot->owner)
    slot->owner->streamPart(slot, part, last);
  else if (last)
    worker_->slots().put(slot);  // the client left meanwhile
  if (last && owner_ && role_ == Role::kPinned)
    owner_->onLinkReply(this);
}

void UpstreamConn::noteRtt(uint64_t ns) {
  worker_->metrics().recordUpstreamRtt(ns);
  if (node_stats_) {
    node_stats_->replies.add();
    node_stats_->rtt_ns.add(ns);
  }
}

void UpstreamConn::fail(std::string_view cause) {
  if (state_ == State::kDown || state_ == State::kClosed)
    return;
  if (node_stats_ && !destroyed_ && !parked_)  // closed on purpose, or its node left: not counted
    node_stats_->link_failures.add();
  const bool was_ready = state_ == State::kReady;
  if (was_ready && destroyed_) {
    worker_->stats().upstream_connected.add(-1);
  } else if (was_ready) {
    worker_->stats().upstream_connected.add(-1);
    if (role_ == Role::kShared || owner_)
      KW_LOG_WARN("upstream %s connection lost: %.*s", pool_->name().c_str(),
                  static_cast<int>(cause.size()), cause.data());
  } else if (!destroyed_) {  // (a link closed by its owner while connecting did not fail)
    worker_->stats().upstream_connect_failures.add();
    // Warn once per outage; each retry of the same outage is only debug noise.
    if (!failed_before_ || down_cause_ != cause)
      KW_LOG_WARN("upstream %s unavailable: %.*s", pool_->name().c_str(),
                  static_cast<int>(cause.size()), cause.data());
    else
      KW_LOG_DEBUG("upstream %s still unavailable: %.*s", pool_->name().c_str(),
                   static_cast<int>(cause.size()), cause.data());
  }
  if (!was_down_) {
    was_down_ = true;
    down_since_ms_ = worker_->nowMs();
  }
  if (!destroyed_ && !parked_)
    worker_->requestTopologyRefresh(RefreshCause::kNodeLost);  // a cluster may have failed over
  down_cause_.assign(cause);
  state_ = destroyed_ ? State::kClosed : State::kDown;
  failed_before_ = true;
  unproven_ = false;
  closeSocket();
  if (through_left_ > 0) {
    // Part of the head reply already reached its client: nothing can complete it now.
    through_left_ = 0;
    ReplySlot* slot = inflight_.front().slot;
    if (slot->owner)
      slot->owner->abortStreamedReply(slot);
  }

  // Error replies go into each waiting slot, in order. Writes are never retried: the command
  // may or may not have run.
  // Requests queued while the connection was still being made were never written: they say so.
  // A link keywarden closed itself (its client left, shutdown) is no failure of the upstream's.
  std::deque<InFlight> lost;
  lost.swap(inflight_);
  const std::string err = was_ready ? upstreamLostError(pool_->name(), cause)
                                    : upstreamUnavailableError(pool_->name(), cause);
  for (const InFlight& f : lost) {
    if (f.internal)
      continue;
    worker_->stats().upstream_inflight.add(-1);
    if (!destroyed_)
      worker_->stats().errors_upstream_lost.add();
    Session::deliver(worker_, f.slot, err);
  }
  writer_.discard();
  worker_->upstreamDrained(0);  // clients waiting for room in its queue hear of the failure
  raw_waiting_.clear();
  partial_.release();
  need_hint_ = 0;
  scanner_.reset();
  mode_ = LinkMode::kFramed;
  stream_end_.clear();

  if (role_ == Role::kPinned || destroyed_) {
    if (role_ == Role::kPinned)
      pool_->pinnedGone(this);
    LinkOwner* owner = owner_;
    owner_ = nullptr;
    if (owner)
      owner->onLinkLost(this);
    if (!destroyed_)
      destroy(cause);
    return;
  }
  scheduleReconnect();
}

void UpstreamConn::park(std::string_view cause) {
  if (destroyed_)
    return;
  parked_ = true;
  if (state_ == State::kReady || state_ == State::kConnecting)
    fail(cause);  // (no reconnect is scheduled while parked)
  uv_timer_stop(&timer_);
  down_cause_.assign(cause);
  failed_before_ = true;
}

void UpstreamConn::unpark() {
  if (!parked_ || destroyed_)
    return;
  parked_ = false;
  reconnectNow();
}

void UpstreamConn::scheduleReconnect() {
  if (parked_)
    return;
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
    if (self->connected_ && self->tls_) {
      self->worker_->stats().upstream_tls_handshake_failures.add();
      self->fail("TLS handshake timeout");
      return;
    }
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
// timeout the connection is declared broken and every waiting request gets an error (see
// docs/architecture.md, "Head-of-line blocking").
void UpstreamConn::checkTimeouts() {
  const UpstreamConfig& up = worker_->config().upstream;
  const uint64_t now = uv_hrtime();
  // Not while reading is paused for a client that does not read: Redis is not late then.
  if (!inflight_.empty() && !read_paused_) {
    const InFlight& head = inflight_.front();
    const uint64_t since = std::max(head_since_ns_, last_progress_ns_);
    if (!head.blocking && now > since && now - since > uint64_t{up.request_timeout_ms} * 1000000) {
      worker_->stats().errors_timeout.add();
      fail("request timeout");
      return;
    }
  }
  armTimer(std::max<uint32_t>(up.request_timeout_ms / 4, 10));
}

void UpstreamConn::closeSocket() {
  uv_timer_stop(&timer_);
  reading_ = false;
  if (tls_ && connected_ && !tls_->channel().failed())
    tls_->closeNotify();  // written if the socket takes it now, never waited for
  connected_ = false;
  if (!socket_open_)
    return;
  auto* h = reinterpret_cast<uv_handle_t*>(&handle_);
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
  if (role_ == Role::kPinned)
    pool_->pinnedGone(this);
  destroyed_ = true;
  state_ = State::kClosed;
  worker_->forgetDirty(this);
  closeSocket();
  ++pending_closes_;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &UpstreamConn::onClosed);
}

void UpstreamConn::onClosed(uv_handle_t* h) {
  auto* self = static_cast<UpstreamConn*>(h->data);
  if (h == reinterpret_cast<uv_handle_t*>(&self->handle_))
    self->socket_open_ = false;
  if (--self->pending_closes_ == 0 && self->destroyed_)
    delete self;
}

}  // namespace kw

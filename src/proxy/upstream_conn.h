// One connection to the upstream Redis. Shared connections carry the one-frame requests of many
// clients, pipelined; replies are matched to requests in FIFO order. A pinned connection belongs
// to one client while it holds connection state (see router.h).
//
// Life of a connection:
//   connect -> handshake: HELLO <proto> [AUTH user pass] SETNAME <name> (allowed while Redis is
//              busy with a script), SELECT <db> when configured; every reply checked
//           -> ready: framed (replies matched FIFO), streaming (frames go to the owner) or raw
//   any error -> every in-flight request gets an error in its own slot -> shared: down, backoff,
//                connect again; pinned: its owner is told and it is freed
//   a pinned connection released by its owner: RESET + handshake, every reply checked, then
//   idle in the pool (pinned_pool.h)
//
// Bytes: requests wait in a chunk queue written with writev (stream_writer.h); replies are framed
// straight from the worker's read buffer, and only an incomplete reply is kept (in_buffer.h, read
// into in place). A large bulk reply (kPassThroughMin or more) whose client takes it in parts
// (SlotOwner::beginStreamedReply) is passed on as it arrives, never held whole.
//
// Transport: TCP, a Unix socket (upstream.address = "unix:/path": a uv_pipe_t in the same handle
// slot, everything above the stream is the same), or TLS over TCP (upstream.tls):
//
//   step                 plaintext                       TLS (ClientTls over a TlsChannel)
//   connected            handshake queued, kReady        ClientHello written; still kConnecting,
//                                                        the connect timeout still running
//   bytes read           framed as replies               fed to the channel, the plaintext framed
//   handshake done       -                               counted (resumed or full), then the RESP
//                                                        handshake queued, kReady
//   handshake failed     -                               counted, the alert written, the link
//                                                        fails as a failed connect: "TLS
//                                                        handshake failed: <OpenSSL's reason>"
//   flush                writev of the queue             ciphertext first, then the queue
//                                                        encrypted in batches (client_tls.h)
//   close                -                               close_notify if the socket takes it
// The context is the one of the current configuration snapshot (taken at each connect); the
// session offered for resumption is the one stored for this node and server name
// (tls_session_cache.h). Nothing blocks: the channel works on memory buffers.
//
// The request timeout measures progress: the head request fails the connection only when
// neither a byte was read or written nor the head changed for request_timeout_ms, so a long
// reply stream is never cut while Redis is sending it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/in_buffer.h"
#include "proxy/reply_scanner.h"
#include "proxy/stats.h"
#include "proxy/stream_writer.h"
#include "proxy/upstream_link.h"

namespace kw {

class ClientTls;
class Worker;
class UpstreamPool;
struct ReplySlot;

class UpstreamConn final : public UpstreamLink {
public:
  enum class Role { kShared, kPinned };
  enum class State { kConnecting, kReady, kDown, kClosed };

  UpstreamConn(Worker* worker, UpstreamPool* pool, int proto, Role role);
  ~UpstreamConn() override;

  void start();
  // A down shared link connects again at once, accepting requests while it does.
  void reconnectNow();
  // A shared link of a node that left the topology: down with `cause` (what was in flight gets
  // the lost error), no reconnect until unpark().
  void park(std::string_view cause);
  void unpark();
  // Closes for good: fails what is in flight, frees itself after libuv lets go of the handle.
  void destroy(std::string_view cause);

  // UpstreamLink.
  // A link that failed before takes requests again only once the node proved what it is (the
  // topology source's link check, e.g. ROLE): until then they wait or go elsewhere.
  bool accepting() const override {
    return (state_ == State::kReady && !unproven_) ||
           (state_ == State::kConnecting && !failed_before_);
  }
  const std::string& downCause() const override { return down_cause_; }
  int proto() const override { return proto_; }
  size_t inflight() const override { return inflight_.size(); }
  bool blockingInFlight() const override;
  int64_t upstreamId() const override { return upstream_id_; }
  LinkMode mode() const override { return mode_; }
  uint64_t headSinceNs() const override { return inflight_.empty() ? 0 : head_since_ns_; }
  size_t queuedBytes() const override { return writer_.buffered(); }
  void pauseReading(bool paused) override;
  bool quietHandshake() const override;
  void markStateful() override { stateful_ = true; }
  bool stateful() const override { return stateful_; }
  void send(std::string_view raw, ReplySlot* slot, bool blocking) override;
  void sendDropped(std::string_view raw, uint32_t count) override;
  void startStreaming(std::string_view raw) override;
  void sendStreaming(std::string_view raw) override;
  void expectStreamReset(std::string_view token) override;
  void startRaw(std::string_view raw) override;
  void sendRaw(std::string_view bytes) override;
  void setProto(int proto) override { proto_ = proto; }
  void setOwner(LinkOwner* owner) override { owner_ = owner; }
  LinkOwner* owner() const override { return owner_; }
  void beginReset() override;
  void close(std::string_view cause) override { destroy(cause); }

  void flush();
  // Bytes of a bulk reply from which it is passed on in parts rather than held whole.
  static constexpr size_t kPassThroughMin = 256 * 1024;
  Role role() const { return role_; }
  UpstreamPool* pool() const { return pool_; }
  State state() const { return state_; }
  int db() const { return db_; }
  // The upstream's id for this connection, learned from elsewhere (CLIENT LIST, for a link whose
  // quiet handshake told none).
  void setUpstreamId(int64_t id) { upstream_id_ = id; }
  // "ip:port" of this end of the connection, as Redis's CLIENT LIST shows it in addr=. Empty
  // over a Unix socket (Redis shows every such client as "/path:0").
  std::string localAddr() const;
  void learnId() override;
  // Over TLS, once the handshake is done: "TLSv1.3"; else empty. Whether it resumed a session.
  std::string_view tlsVersion() const;
  bool tlsResumed() const;
  void setDb(int db) { db_ = db; }
  bool dirty_listed = false;  // in the worker's flush list

private:
  // What a reply the proxy itself asked for must look like.
  enum class Check : uint8_t { kNone, kHello, kOk, kReset, kLinkCheck };
  struct InFlight {
    ReplySlot* slot;   // nullptr: internal (handshake, reset) or dropped reply
    uint64_t sent_ns;  // when queued: request timeout and round-trip metric
    Check check;       // internal requests: how the reply is checked
    bool internal;
    bool blocking;
    bool ends_reset;  // the last reply of a pool reset: the link is clean when it checks out
  };

  static void onConnect(uv_connect_t* req, int status);
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onTimer(uv_timer_t* t);
  static void onClosed(uv_handle_t* h);
  static void onWriteDone(void* owner, int status);

  void connect();
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }
  bool unixSocket() const;
  // TLS: the channel started on a connected socket (false: the link failed).
  bool startTls();
  std::string tlsServerName() const;
  void onTlsRead(std::string_view ciphertext);
  void failTls();
  void failSocket(std::string_view cause);
  // Where the next plaintext goes: the worker's read buffer, or in place behind an incomplete
  // reply (with room for the bulk being waited for); then received() frames it.
  char* readRoom(size_t* room);
  void received(const char* at, size_t n);
  // The handshake commands for `proto_`, with their checks queued in `checks`.
  void appendHandshake(std::string* out, std::deque<InFlight>* checks);
  void queueHandshake();
  void consume(std::string_view data);
  size_t consumeFrames(std::string_view data);
  void deliverFrame(std::string_view frame, const ReplyScanner::Frame& info);
  // The head reply is an incomplete bulk of kPassThroughMin bytes or more whose client takes it
  // in parts: passes `partial` on and returns true.
  bool startPassThrough(std::string_view partial);
  void passThrough(std::string_view part);
  void push(const InFlight& f);
  void popHead();
  void startReading();
  bool checkInternal(const InFlight& head, std::string_view bytes);
  void fail(std::string_view cause);
  void noteRtt(uint64_t ns);
  void closeSocket();
  void armTimer(uint64_t ms);
  void scheduleReconnect();
  void checkTimeouts();
  void queue(std::string_view raw);

  Worker* worker_;
  UpstreamPool* pool_;
  NodeCounters* node_stats_;  // this node's per-node figures (null past WorkerStats::kNodeStats)
  int proto_;
  const int pool_proto_;  // the protocol a reset restores
  const Role role_;
  State state_ = State::kConnecting;
  LinkMode mode_ = LinkMode::kFramed;
  bool failed_before_ = false;
  bool was_down_ = false;  // for the "upstream is back" log line
  bool socket_open_ = false;
  bool connected_ = false;  // the socket is connected (TLS: maybe still handshaking)
  bool tls_heard_ = false;  // TLS: Redis sent plaintext on this connection (see failTls)
  bool destroyed_ = false;
  bool reading_ = false;      // uv_read_start in effect
  bool stateful_ = false;     // see UpstreamLink::markStateful; cleared by a reset
  bool learning_id_ = false;  // a CLIENT LIST for its id is on its way
  bool parked_ = false;       // see park()
  bool read_paused_ = false;  // the owner's client is not reading (pauseReading)
  bool unproven_ = false;     // reconnected, its link check not passed yet (see accepting())
  std::string stream_end_;    // the frame that ends streaming after the owner's RESET
  int pending_closes_ = 0;
  int db_ = 0;
  int64_t upstream_id_ = -1;
  LinkOwner* owner_ = nullptr;

  // A TCP socket or a Unix socket's pipe: both are streams, and nothing past connect() tells
  // them apart.
  union Handle {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  };
  Handle handle_{};
  std::unique_ptr<ClientTls> tls_;  // upstream.tls: this connection's channel; else null
  uv_connect_t connect_req_{};
  uv_timer_t timer_{};
  StreamWriter writer_;
  std::deque<InFlight> inflight_;
  uint64_t head_since_ns_ = 0;     // when the head of inflight_ became the head
  uint64_t last_progress_ns_ = 0;  // last byte read or written, or reading resumed
  InBuffer partial_;               // an incomplete reply carried to the next read
  uint64_t through_left_ = 0;      // bytes of the head reply still to pass through
  size_t need_hint_ = 0;           // bytes the reply in partial_ needs at least (scanner's hint)
  std::string raw_waiting_;  // SYNC/PSYNC and what follows, until the handshake replies are in
  ReplyScanner scanner_;
  std::string down_cause_;
  uint32_t backoff_ms_ = 0;
  uint64_t down_since_ms_ = 0;
};

}  // namespace kw

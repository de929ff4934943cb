// One connection to the upstream Redis. Shared connections carry the stateless commands of many
// clients, pipelined; replies are matched to requests in FIFO order. A pinned connection belongs
// to one client while it holds connection state (MULTI, WATCH, blocking, pub/sub, SELECT).
//
// Life of a shared connection:
//   connect -> handshake (HELLO 3 / AUTH, SELECT, CLIENT SETNAME) -> ready
//   any error -> every in-flight request gets an error in its slot -> down -> backoff -> connect
// A pinned connection does not reconnect: its owner is told, and it is freed.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "proxy/reply_scanner.h"
#include "proxy/stream_writer.h"

namespace kw {

class Worker;
class Session;
struct ReplySlot;

class UpstreamConn {
public:
  enum class Role { kShared, kPinned };
  enum class State { kConnecting, kReady, kDown, kClosed };

  UpstreamConn(Worker* worker, int proto, Role role);

  void start();
  // Closes for good: fails what is in flight, frees itself after libuv lets go of the handle.
  void destroy(std::string_view cause);

  // True if a request queued now will be sent (connected, or on the first connect attempt).
  bool accepting() const {
    return state_ == State::kReady || (state_ == State::kConnecting && !failed_before_);
  }
  const std::string& downCause() const { return down_cause_; }

  // Queues one request. `slot` receives the reply; nullptr drops it.
  void send(std::string_view raw, ReplySlot* slot, bool blocking);
  // `count` complete commands in `raw` whose replies are read and dropped (follow-ups).
  void sendDropped(std::string_view raw, uint32_t count);
  // Passthrough mode: the replies stream to the owner, nothing waits for them.
  void sendUntracked(std::string_view raw);
  void flush();

  size_t inflight() const { return inflight_.size(); }
  int proto() const { return proto_; }
  Role role() const { return role_; }
  State state() const { return state_; }
  bool dirty_listed = false;  // in the worker's flush list

  // Pinned connections.
  void setOwner(Session* s) { owner_ = s; }
  Session* owner() const { return owner_; }
  // From now on every frame with no request waiting for it goes to the owner (pub/sub, MONITOR).
  void enterPassthrough() { passthrough_ = true; }
  bool passthrough() const { return passthrough_; }
  // The owner sent RESET in passthrough: the frame "+RESET" ends passthrough.
  void expectReset() { reset_expected_ = true; }
  int db = 0;                // currently selected db on this connection
  bool state_dirty = false;  // carries state that cannot be undone cheaply: close, don't pool

private:
  struct InFlight {
    ReplySlot* slot;   // nullptr: internal (handshake) or dropped reply
    uint64_t sent_ns;  // uv_hrtime() when queued: request timeout and round-trip metric
    bool internal;
    bool blocking;
  };

  static void onConnect(uv_connect_t* req, int status);
  static void onAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void onTimer(uv_timer_t* t);
  static void onClosed(uv_handle_t* h);
  static void onWriteDone(void* owner, int status);

  void connect();
  void queueHandshake();
  void consume(std::string_view data);  // returns after consuming all complete frames
  size_t consumeFrames(std::string_view data);
  void deliverFrame(std::string_view frame, const ReplyScanner::Frame& info);
  void fail(std::string_view cause);
  void closeSocket();
  void armTimer(uint64_t ms);
  void scheduleReconnect();
  void checkTimeouts();

  Worker* worker_;
  const int proto_;
  const Role role_;
  State state_ = State::kConnecting;
  bool failed_before_ = false;
  bool socket_open_ = false;
  bool destroyed_ = false;
  bool passthrough_ = false;
  bool reset_expected_ = false;
  int pending_closes_ = 0;
  Session* owner_ = nullptr;

  uv_tcp_t tcp_{};
  uv_connect_t connect_req_{};
  uv_timer_t timer_{};
  StreamWriter writer_;
  std::deque<InFlight> inflight_;
  std::string partial_;  // an incomplete reply carried to the next read
  ReplyScanner scanner_;
  std::string down_cause_;
  uint32_t backoff_ms_ = 0;
  uint64_t connect_started_ms_ = 0;
};

}  // namespace kw

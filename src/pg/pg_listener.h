// The LISTEN connection of one PostgreSQL source, on worker 0's loop (one per source per
// process). It LISTENs on every notify_channel of the source's read-through namespaces; each
// notification goes to the stage, which deletes the key. A heartbeat (SELECT 1 every
// kHeartbeatMs, answered within the same time) notices a connection that died silently.
// When the connection is lost it reconnects with backoff, LISTENs again, and tells the stage
// the moment it was listening again (onListening), so keys filled before it can be deleted:
// notifications sent while it was down are lost for good.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pg/pg_conn.h"
#include "pg/source_state.h"

namespace kw::pg {

class PgListener final : private PgConn::Owner {
public:
  using NotifyFn = std::function<void(std::string_view channel, std::string_view payload)>;
  // `since_ms`: ReadThroughHub::nowMs() when the last LISTEN was confirmed.
  using ListeningFn = std::function<void(uint64_t since_ms)>;

  PgListener(uv_loop_t* loop, SourceState* source, std::vector<std::string> channels,
             NotifyFn on_notify, ListeningFn on_listening);
  ~PgListener();

  void start();
  static constexpr uint64_t kHeartbeatMs = 5000;

private:
  void onConnReady(PgConn* conn) override;
  void onConnFailed(PgConn* conn, const std::string& cause) override;
  void onNotify(PgConn* conn, std::string_view channel, std::string_view payload) override;
  void listenNext();
  void lost(const std::string& cause);
  static void onTimer(uv_timer_t* t);
  void onTick();

  uv_loop_t* loop_;
  SourceState* source_;
  std::vector<std::string> channels_;
  NotifyFn on_notify_;
  ListeningFn on_listening_;
  std::unique_ptr<PgConn> conn_;
  std::unique_ptr<PgConn> dead_;  // freed on the next tick, not inside its own callback
  size_t listened_ = 0;           // channels confirmed on this connection
  bool listening_ = false;        // every channel confirmed
  bool heartbeat_out_ = false;
  uint64_t heartbeat_sent_ms_ = 0;
  uint64_t backoff_ms_ = 0;
  uint64_t reconnect_at_ms_ = 0;
  bool ever_listened_ = false;
  uv_timer_t* timer_ = nullptr;
};

}  // namespace kw::pg

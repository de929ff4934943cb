// One worker's connections to one PostgreSQL source (`connections` of them, opened at startup and
// again on demand after a failure), and the queue of queries waiting for one. Lives on the worker's
// loop.
//
// Every query has a deadline (query_timeout_ms from when it was asked): past it its caller gets
// kTimeout at once, and the running statement is cancelled off the loop (PgConn::cancel); the
// connection is dropped if the cancel does not take effect within another timeout.
// Connect failures, lost connections and timeouts count against the source's circuit breaker
// (SourceState); while it is open, query() fails at once and only probe() reaches the server.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pg/pg_conn.h"
#include "pg/row_result.h"
#include "pg/source_state.h"

namespace kw::pg {

struct Statement {
  std::string name;  // prepared statement name, per connection
  std::string sql;
};

class SourcePool final : private PgConn::Owner {
public:
  using Done = std::function<void(RowOutcome&& outcome, uint64_t latency_us)>;

  SourcePool(uv_loop_t* loop, SourceState* source, unsigned worker_index);
  ~SourcePool();  // everything pending gets kUnavailable ("shutting down")
  SourcePool(const SourcePool&) = delete;
  SourcePool& operator=(const SourcePool&) = delete;

  void start();
  // `done` may run inside query() (circuit open) or later on this loop.
  void query(const Statement* stmt, std::vector<std::string> params, Done done);
  // A background probe for the breaker: connects if needed, runs SELECT 1.
  void probe();

  size_t queued() const { return queue_.size(); }
  size_t open() const;
  size_t busy() const;

private:
  struct Pending {
    const Statement* stmt = nullptr;  // nullptr: probe (SELECT 1)
    std::vector<std::string> params;
    Done done;
    uint64_t asked_ms = 0;
    uint64_t asked_us = 0;
  };
  struct Conn {
    std::unique_ptr<PgConn> pg;
    bool has_current = false;
    Pending current;
    bool abandoned = false;  // its caller was answered (timeout); the result is dropped
    uint64_t cancel_deadline_ms = 0;
    bool counted_open = false;
    bool counted_busy = false;
  };

  void onConnReady(PgConn* conn) override;
  void onConnFailed(PgConn* conn, const std::string& cause) override;

  Conn* find(PgConn* pg);
  void dispatch();
  void run(Conn& c, Pending&& p);
  void startConn();
  void failQueue(RowOutcome::Kind kind, const std::string& error);
  void armTimer();
  static void onTick(uv_timer_t* t);
  void tick();
  void setBusy(Conn& c, bool busy);
  void setOpen(Conn& c, bool open);
  uint64_t nowMs() const { return uv_now(loop_); }
  static uint64_t nowUs() { return uv_hrtime() / 1000; }

  uv_loop_t* loop_;
  SourceState* source_;
  const PostgresSourceConfig& cfg_;
  std::string app_name_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::deque<Pending> queue_;
  uv_timer_t* timer_ = nullptr;
  bool timer_armed_ = false;
  bool shutting_down_ = false;
};

}  // namespace kw::pg

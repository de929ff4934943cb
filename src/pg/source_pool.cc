#include "pg/source_pool.h"

#include <libpq-fe.h>

#include <algorithm>

#include "common/log.h"

namespace kw::pg {
namespace {
constexpr uint64_t kTickMs = 20;
}

SourcePool::SourcePool(uv_loop_t* loop, SourceState* source, unsigned worker_index)
    : loop_(loop), source_(source), cfg_(source->config()),
      app_name_("keywarden-w" + std::to_string(worker_index)) {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

SourcePool::~SourcePool() {
  shutting_down_ = true;
  failQueue(RowOutcome::Kind::kUnavailable, "keywarden is shutting down");
  for (auto& c : conns_) {
    setBusy(*c, false);
    setOpen(*c, false);
    if (c->has_current && !c->abandoned && c->current.done) {
      c->has_current = false;
      RowOutcome o{RowOutcome::Kind::kUnavailable, "", "keywarden is shutting down"};
      auto done = std::move(c->current.done);
      c->pg.reset();  // closes quietly; its own callback is the wrapper below, now inert
      done(std::move(o), 0);
    }
  }
  conns_.clear();
  timer_->data = nullptr;
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

// Every connection at once: the first misses should not wait for connects.
void SourcePool::start() {
  for (unsigned i = 0; i < cfg_.connections; ++i)
    startConn();
}

size_t SourcePool::open() const {
  size_t n = 0;
  for (const auto& c : conns_)
    n += c->pg->state() == PgConn::State::kReady || c->pg->state() == PgConn::State::kBusy;
  return n;
}

size_t SourcePool::busy() const {
  size_t n = 0;
  for (const auto& c : conns_)
    n += c->has_current;
  return n;
}

void SourcePool::query(const Statement* stmt, std::vector<std::string> params, Done done) {
  std::string cause;
  if (!source_->allowQuery(&cause)) {
    RowOutcome o{RowOutcome::Kind::kUnavailable, "", cause};
    return done(std::move(o), 0);
  }
  Pending p;
  p.stmt = stmt;
  p.params = std::move(params);
  p.done = std::move(done);
  p.asked_ms = nowMs();
  p.asked_us = nowUs();
  queue_.push_back(std::move(p));
  dispatch();
}

void SourcePool::probe() {
  Pending p;
  p.asked_ms = nowMs();
  p.asked_us = nowUs();
  SourceState* src = source_;
  p.done = [src, this](RowOutcome&& o, uint64_t) {
    if (o.kind == RowOutcome::Kind::kFound || o.kind == RowOutcome::Kind::kMissing ||
        o.kind == RowOutcome::Kind::kQueryError || o.kind == RowOutcome::Kind::kBadData) {
      src->success();
      KW_LOG_INFO("postgres source '%s' answers again; circuit closed", src->config().name.c_str());
    } else {
      src->failure(nowMs(), o.error);
    }
  };
  queue_.push_front(std::move(p));
  dispatch();
}

SourcePool::Conn* SourcePool::find(PgConn* pg) {
  for (auto& c : conns_)
    if (c->pg.get() == pg)
      return c.get();
  return nullptr;
}

void SourcePool::startConn() {
  if (shutting_down_ || conns_.size() >= cfg_.connections)
    return;
  auto c = std::make_unique<Conn>();
  c->pg = std::make_unique<PgConn>(loop_, static_cast<PgConn::Owner*>(this), cfg_.conninfo,
                                   app_name_, cfg_.connect_timeout_ms);
  source_->conns_connecting.fetch_add(1, std::memory_order_relaxed);
  PgConn* pg = c->pg.get();
  conns_.push_back(std::move(c));
  pg->connect();
}

void SourcePool::setBusy(Conn& c, bool busy) {
  if (c.counted_busy == busy)
    return;
  c.counted_busy = busy;
  source_->conns_busy.fetch_add(busy ? 1 : -1, std::memory_order_relaxed);
}

void SourcePool::setOpen(Conn& c, bool open) {
  if (c.counted_open == open)
    return;
  c.counted_open = open;
  source_->conns_ready.fetch_add(open ? 1 : -1, std::memory_order_relaxed);
}

void SourcePool::onConnReady(PgConn* pg) {
  Conn* c = find(pg);
  if (!c)
    return;
  if (!c->counted_open) {
    source_->conns_connecting.fetch_sub(1, std::memory_order_relaxed);
    bump(source_->connects);
    setOpen(*c, true);
  }
  setBusy(*c, false);
  c->has_current = false;
  c->abandoned = false;
  dispatch();
}

void SourcePool::onConnFailed(PgConn* pg, const std::string& cause) {
  Conn* c = find(pg);
  if (!c)
    return;
  if (!c->counted_open) {
    source_->conns_connecting.fetch_sub(1, std::memory_order_relaxed);
    bump(source_->connect_failures);
  }
  setBusy(*c, false);
  setOpen(*c, false);
  const bool opened = source_->failure(nowMs(), cause);
  if (opened)
    KW_LOG_WARN("postgres source '%s': circuit open (%s)", cfg_.name.c_str(), cause.c_str());
  // Removed on the next tick, not from inside the connection's own call.
  armTimer();
  std::string why;
  if (!source_->allowQuery(&why))
    failQueue(RowOutcome::Kind::kUnavailable, why);
}

void SourcePool::failQueue(RowOutcome::Kind kind, const std::string& error) {
  std::deque<Pending> q;
  q.swap(queue_);
  for (Pending& p : q) {
    RowOutcome o{kind, "", error};
    if (p.done)
      p.done(std::move(o), 0);
  }
}

void SourcePool::dispatch() {
  if (shutting_down_)
    return;
  while (!queue_.empty()) {
    Conn* idle = nullptr;
    for (auto& c : conns_)
      if (c->pg->ready() && !c->has_current) {
        idle = c.get();
        break;
      }
    if (!idle)
      break;
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    run(*idle, std::move(p));
  }
  if (!queue_.empty()) {
    size_t connecting = 0, live = 0;
    for (auto& c : conns_) {
      const auto st = c->pg->state();
      connecting += st == PgConn::State::kConnecting || st == PgConn::State::kResolving ||
                    st == PgConn::State::kNew;
      live += st != PgConn::State::kFailed;
    }
    if (connecting < queue_.size() && live < cfg_.connections)
      startConn();
  }
  if (!queue_.empty() || busy() != 0)
    armTimer();
}

void SourcePool::run(Conn& c, Pending&& p) {
  c.has_current = true;
  c.abandoned = false;
  c.current = std::move(p);
  setBusy(c, true);
  bump(source_->queries);
  PgConn* pg = c.pg.get();
  auto on_result = [this, pg](const PGresult* r, const std::string& err) {
    Conn* conn = find(pg);
    if (!conn || !conn->has_current)
      return;
    if (conn->abandoned) {
      conn->has_current = false;  // cancelled after its caller was answered
      return;
    }
    RowOutcome o = interpretResult(r, err);
    if (!conn->current.stmt && r && PQresultStatus(r) == PGRES_TUPLES_OK)
      o.kind = RowOutcome::Kind::kFound;  // probe: SELECT 1
    if (o.kind != RowOutcome::Kind::kUnavailable)
      source_->success();
    else
      source_->noteError(o.error);
    if (o.kind == RowOutcome::Kind::kQueryError || o.kind == RowOutcome::Kind::kBadData)
      source_->noteError(o.error);
    const uint64_t latency = nowUs() - conn->current.asked_us;
    Done done = std::move(conn->current.done);
    conn->has_current = false;
    conn->current = Pending{};
    if (done)
      done(std::move(o), latency);
  };
  if (c.current.stmt)
    pg->execPrepared(c.current.stmt->name, c.current.stmt->sql, c.current.params, on_result);
  else
    pg->exec("SELECT 1", on_result);
}

void SourcePool::armTimer() {
  if (timer_armed_ || shutting_down_)
    return;
  timer_armed_ = true;
  uv_timer_start(timer_, &SourcePool::onTick, kTickMs, 0);
}

void SourcePool::onTick(uv_timer_t* t) {
  auto* self = static_cast<SourcePool*>(t->data);
  if (!self)
    return;
  self->timer_armed_ = false;
  self->tick();
}

void SourcePool::tick() {
  const uint64_t now = nowMs();
  // Failed connections leave.
  conns_.erase(std::remove_if(conns_.begin(), conns_.end(),
                              [](const std::unique_ptr<Conn>& c) {
                                return c->pg->state() == PgConn::State::kFailed;
                              }),
               conns_.end());
  // Queued past the deadline.
  while (!queue_.empty() && now >= queue_.front().asked_ms + cfg_.query_timeout_ms) {
    Pending p = std::move(queue_.front());
    queue_.pop_front();
    bump(source_->timeouts);
    RowOutcome o{RowOutcome::Kind::kTimeout, "",
                 "no connection within " + std::to_string(cfg_.query_timeout_ms) + " ms"};
    if (p.done)
      p.done(std::move(o), nowUs() - p.asked_us);
  }
  // Running past the deadline: answer now, cancel off the loop; drop the connection if the
  // cancel does not take effect either.
  for (auto& c : conns_) {
    if (!c->has_current)
      continue;
    if (c->abandoned) {
      if (now >= c->cancel_deadline_ms) {
        KW_LOG_WARN("postgres source '%s': a cancelled query did not stop; closing its connection",
                    cfg_.name.c_str());
        setBusy(*c, false);
        setOpen(*c, false);
        c->has_current = false;
        c->pg->close();
      }
      continue;
    }
    if (now < c->current.asked_ms + cfg_.query_timeout_ms)
      continue;
    c->abandoned = true;
    c->cancel_deadline_ms = now + cfg_.query_timeout_ms;
    bump(source_->timeouts);
    const std::string cause =
        "query timed out after " + std::to_string(cfg_.query_timeout_ms) + " ms";
    if (source_->failure(now, cause))
      KW_LOG_WARN("postgres source '%s': circuit open (%s)", cfg_.name.c_str(), cause.c_str());
    c->pg->cancel();
    Done done = std::move(c->current.done);
    const uint64_t latency = nowUs() - c->current.asked_us;
    if (done)
      done(RowOutcome{RowOutcome::Kind::kTimeout, "", cause}, latency);
  }
  std::string why;
  if (!queue_.empty() && !source_->allowQuery(&why))
    failQueue(RowOutcome::Kind::kUnavailable, why);
  dispatch();
  if (!queue_.empty() || busy() != 0)
    armTimer();
}

}  // namespace kw::pg

#include "pg/pg_listener.h"

#include <libpq-fe.h>

#include <algorithm>

#include "common/log.h"
#include "pg/read_through_hub.h"

namespace kw::pg {
namespace {
constexpr uint64_t kTickMs = 100;
constexpr uint64_t kBackoffMinMs = 100;
constexpr uint64_t kBackoffMaxMs = 5000;

std::string quoteIdent(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"')
      out += '"';
    out += c;
  }
  return out + "\"";
}
}  // namespace

PgListener::PgListener(uv_loop_t* loop, SourceState* source, std::vector<std::string> channels,
                       NotifyFn on_notify, ListeningFn on_listening)
    : loop_(loop), source_(source), channels_(std::move(channels)),
      on_notify_(std::move(on_notify)), on_listening_(std::move(on_listening)) {
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

PgListener::~PgListener() {
  conn_.reset();
  dead_.reset();
  source_->listening.store(false, std::memory_order_relaxed);
  timer_->data = nullptr;
  uv_timer_stop(timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

void PgListener::start() {
  conn_ =
      std::make_unique<PgConn>(loop_, static_cast<PgConn::Owner*>(this), source_->config().conninfo,
                               "keywarden-listen", source_->config().connect_timeout_ms);
  listened_ = 0;
  listening_ = false;
  heartbeat_out_ = false;
  conn_->connect();
  uv_timer_start(timer_, &PgListener::onTimer, kTickMs, kTickMs);
}

void PgListener::onConnReady(PgConn* conn) {
  if (conn != conn_.get() || listening_ || conn->state() != PgConn::State::kReady)
    return;
  if (listened_ == 0 && !heartbeat_out_)
    listenNext();
}

void PgListener::listenNext() {
  if (listened_ == channels_.size()) {
    listening_ = true;
    backoff_ms_ = 0;
    source_->listening.store(true, std::memory_order_relaxed);
    source_->success();
    if (ever_listened_)
      bump(source_->relistens);
    ever_listened_ = true;
    KW_LOG_INFO("postgres source '%s': listening on %zu channel(s)", source_->config().name.c_str(),
                channels_.size());
    on_listening_(ReadThroughHub::nowMs());
    return;
  }
  // LISTEN in its own simple query: autocommit, so it is committed when its result arrives.
  conn_->exec("LISTEN " + quoteIdent(channels_[listened_]),
              [this](const PGresult* r, const std::string& err) {
                if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
                  std::string why = r ? PQresultErrorMessage(r) : err;
                  while (!why.empty() && why.back() == '\n')
                    why.pop_back();
                  KW_LOG_WARN("postgres source '%s': LISTEN failed: %s",
                              source_->config().name.c_str(), why.c_str());
                  if (conn_)
                    conn_->close();
                  lost("LISTEN failed: " + why);
                  return;
                }
                ++listened_;
                listenNext();
              });
}

void PgListener::onNotify(PgConn*, std::string_view channel, std::string_view payload) {
  on_notify_(channel, payload);
}

void PgListener::onConnFailed(PgConn* conn, const std::string& cause) {
  if (conn != conn_.get())
    return;
  if (source_->failure(ReadThroughHub::nowMs(), cause))
    KW_LOG_WARN("postgres source '%s': circuit open (%s)", source_->config().name.c_str(),
                cause.c_str());
  lost(cause);
}

void PgListener::lost(const std::string& cause) {
  if (listening_) {
    bump(source_->listen_losses);
    KW_LOG_WARN("postgres source '%s': LISTEN connection lost (%s); notifications until it is "
                "back are lost, keys filled before then will be deleted",
                source_->config().name.c_str(), cause.c_str());
  }
  listening_ = false;
  source_->listening.store(false, std::memory_order_relaxed);
  dead_ = std::move(conn_);
  backoff_ms_ = backoff_ms_ == 0 ? kBackoffMinMs : std::min(backoff_ms_ * 2, kBackoffMaxMs);
  reconnect_at_ms_ = uv_now(loop_) + backoff_ms_;
}

void PgListener::onTimer(uv_timer_t* t) {
  auto* self = static_cast<PgListener*>(t->data);
  if (self)
    self->onTick();
}

void PgListener::onTick() {
  dead_.reset();
  const uint64_t now = uv_now(loop_);
  if (!conn_) {
    if (now < reconnect_at_ms_)
      return;
    conn_ = std::make_unique<PgConn>(loop_, static_cast<PgConn::Owner*>(this),
                                     source_->config().conninfo, "keywarden-listen",
                                     source_->config().connect_timeout_ms);
    listened_ = 0;
    heartbeat_out_ = false;
    conn_->connect();
    return;
  }
  if (!listening_)
    return;
  if (heartbeat_out_) {
    if (now - heartbeat_sent_ms_ > kHeartbeatMs) {
      conn_->close();
      lost("heartbeat not answered within " + std::to_string(kHeartbeatMs) + " ms");
    }
    return;
  }
  if (now - heartbeat_sent_ms_ >= kHeartbeatMs && conn_->ready()) {
    heartbeat_out_ = true;
    heartbeat_sent_ms_ = now;
    conn_->exec("SELECT 1",
                [this](const PGresult*, const std::string&) { heartbeat_out_ = false; });
  }
}

}  // namespace kw::pg

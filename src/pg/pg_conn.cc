#include "pg/pg_conn.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netdb.h>

#include <cstring>

namespace kw::pg {
namespace {

template <typename H> void closeAndDelete(H* h) {
  h->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(h),
           [](uv_handle_t* x) { delete reinterpret_cast<H*>(x); });
}

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running...");
// error replies and log lines need one line: whitespace runs become one space.
std::string trimmed(const char* s) {
  std::string out;
  for (const char* p = s ? s : ""; *p; ++p) {
    const bool space = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
    if (!space)
      out += *p;
    else if (!out.empty() && out.back() != ' ')
      out += ' ';
  }
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

}  // namespace

PgConn::PgConn(uv_loop_t* loop, Owner* owner, std::string conninfo, std::string app_name,
               uint32_t connect_timeout_ms)
    : loop_(loop), owner_(owner), conninfo_(std::move(conninfo)), app_name_(std::move(app_name)),
      connect_timeout_ms_(connect_timeout_ms) {}

PgConn::~PgConn() {
  close();
}

std::string PgConn::hostToResolve(const std::string& conninfo, std::string* numeric_hostaddr) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (err)
    PQfreemem(err);
  if (!opts)
    return "";
  std::string host, hostaddr;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (o->val && strcmp(o->keyword, "host") == 0)
      host = o->val;
    if (o->val && strcmp(o->keyword, "hostaddr") == 0)
      hostaddr = o->val;
  }
  PQconninfoFree(opts);
  if (!hostaddr.empty() || host.empty() || host[0] == '/' || host[0] == '@' ||
      host.find(',') != std::string::npos)
    return "";
  unsigned char buf[sizeof(in6_addr)];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1) {
    *numeric_hostaddr = host;
    return "";
  }
  return host;
}

void PgConn::connect() {
  if (state_ != State::kNew)
    return;
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(timer_, &PgConn::onTimer, connect_timeout_ms_, 0);
  std::string numeric;
  const std::string host = hostToResolve(conninfo_, &numeric);
  if (host.empty())
    return startLibpq(numeric);
  state_ = State::kResolving;
  resolve_ = new uv_getaddrinfo_t;
  resolve_->data = this;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(loop_, resolve_, &PgConn::onResolved, host.c_str(), nullptr, &hints);
  if (rc != 0) {
    delete resolve_;
    resolve_ = nullptr;
    fail("cannot resolve host \"" + host + "\": " + uv_strerror(rc));
  }
}

void PgConn::onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* self = static_cast<PgConn*>(req->data);
  std::string addr;
  if (status == 0) {
    // IPv4 first, as the rest of keywarden resolves names.
    const addrinfo* pick = nullptr;
    for (const addrinfo* a = res; a; a = a->ai_next)
      if (a->ai_family == AF_INET && !pick)
        pick = a;
    if (!pick)
      pick = res;
    char buf[INET6_ADDRSTRLEN] = {};
    if (pick && pick->ai_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(pick->ai_addr)->sin_addr, buf,
                sizeof buf);
    else if (pick && pick->ai_family == AF_INET6)
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(pick->ai_addr)->sin6_addr, buf,
                sizeof buf);
    addr = buf;
  }
  uv_freeaddrinfo(res);
  delete req;
  if (!self)
    return;  // closed meanwhile
  self->resolve_ = nullptr;
  if (status != 0 || addr.empty())
    return self->fail(std::string("cannot resolve host: ") +
                      (status ? uv_strerror(status) : "no address"));
  self->startLibpq(addr);
}

void PgConn::startLibpq(const std::string& hostaddr) {
  // Keywords are processed in order: the conninfo (expanded from dbname) overrides the fallback
  // name, and the resolved hostaddr overrides nothing the operator wrote (it had a name only).
  const char* keys[] = {"fallback_application_name", "dbname",
                        hostaddr.empty() ? nullptr : "hostaddr", nullptr};
  const char* vals[] = {app_name_.c_str(), conninfo_.c_str(), hostaddr.c_str(), nullptr};
  conn_ = PQconnectStartParams(keys, vals, 1);
  if (!conn_)
    return fail("out of memory");
  if (PQstatus(conn_) == CONNECTION_BAD)
    return fail(lastError());
  PQsetnonblocking(conn_, 1);
  state_ = State::kConnecting;
  watch(UV_WRITABLE);
}

void PgConn::pollConnect() {
  switch (PQconnectPoll(conn_)) {
  case PGRES_POLLING_FAILED:
    return fail(lastError());
  case PGRES_POLLING_READING:
    return watch(UV_READABLE);
  case PGRES_POLLING_WRITING:
    return watch(UV_WRITABLE);
  case PGRES_POLLING_OK:
    uv_timer_stop(timer_);
    state_ = State::kReady;
    watch(UV_READABLE);
    if (state_ == State::kReady)
      owner_->onConnReady(this);
    return;
  default:
    return watch(UV_READABLE | UV_WRITABLE);
  }
}

void PgConn::watch(int events) {
  const int fd = PQsocket(conn_);
  if (fd < 0)
    return fail("connection has no socket");
  if (poll_ && fd != poll_fd_)
    stopWatching();  // libpq switched sockets (another address, SSL fallback): re-arm
  if (!poll_) {
    poll_ = new uv_poll_t;
    int rc = uv_poll_init(loop_, poll_, fd);
    if (rc != 0) {
      delete poll_;
      poll_ = nullptr;
      return fail(std::string("uv_poll_init: ") + uv_strerror(rc));
    }
    poll_->data = this;
    poll_fd_ = fd;
    poll_events_ = 0;
  }
  if (events != poll_events_) {
    uv_poll_start(poll_, events, &PgConn::onPoll);
    poll_events_ = events;
  }
}

void PgConn::stopWatching() {
  if (!poll_)
    return;
  uv_poll_stop(poll_);
  closeAndDelete(poll_);
  poll_ = nullptr;
  poll_fd_ = -1;
  poll_events_ = 0;
}

void PgConn::onPoll(uv_poll_t* h, int status, int events) {
  auto* self = static_cast<PgConn*>(h->data);
  if (!self)
    return;
  // libuv reports an error on the socket (the server went away, a reset) as UV_EBADF here:
  // that is the connection breaking, not a bad descriptor of ours.
  if (status < 0 && self->state_ != State::kConnecting)
    return self->fail(status == UV_EBADF ? std::string("connection broken")
                                         : std::string("poll: ") + uv_strerror(status));
  self->onSocketEvent(status < 0 ? (UV_READABLE | UV_WRITABLE) : events);
}

void PgConn::onTimer(uv_timer_t* t) {
  auto* self = static_cast<PgConn*>(t->data);
  if (!self)
    return;
  if (self->state_ == State::kResolving || self->state_ == State::kConnecting)
    self->fail("connect timed out after " + std::to_string(self->connect_timeout_ms_) + " ms");
}

void PgConn::onSocketEvent(int events) {
  if (state_ == State::kConnecting)
    return pollConnect();
  if (!conn_)
    return;
  if (events & UV_WRITABLE) {
    flushOutput();
    if (!conn_)
      return;
  }
  if (events & UV_READABLE)
    readInput();
}

void PgConn::flushOutput() {
  int r = PQflush(conn_);
  if (r < 0)
    return fail(lastError());
  want_write_ = r == 1;
  watch(UV_READABLE | (want_write_ ? UV_WRITABLE : 0));
}

void PgConn::readInput() {
  if (!PQconsumeInput(conn_))
    return fail(lastError());
  if (!deliverNotifies())
    return;
  while (phase_ != Phase::kNone && !PQisBusy(conn_)) {
    PGresult* r = PQgetResult(conn_);
    if (!r) {
      finishCommand();
      break;
    }
    if (!result_)
      result_ = r;
    else
      PQclear(r);
  }
  // Parsing results may have queued notifications that arrived with them: deliver them now, not
  // at the next readable event (which, on a quiet LISTEN connection, may be seconds away).
  if (!conn_ || !deliverNotifies())
    return;
  if (PQstatus(conn_) == CONNECTION_BAD)
    fail(lastError());
}

// False when the connection went away meanwhile.
bool PgConn::deliverNotifies() {
  while (conn_) {
    PGnotify* n = PQnotifies(conn_);
    if (!n)
      return true;
    std::string channel = n->relname ? n->relname : "";
    std::string payload = n->extra ? n->extra : "";
    PQfreemem(n);
    owner_->onNotify(this, channel, payload);
  }
  return false;
}

void PgConn::finishCommand() {
  if (phase_ == Phase::kPrepare) {
    if (result_ && PQresultStatus(result_) == PGRES_COMMAND_OK) {
      PQclear(result_);
      result_ = nullptr;
      prepared_.insert(stmt_name_);
      return sendPrepared();
    }
    // The PREPARE's error (bad SQL, unknown table) is the command's answer.
  }
  ResultFn done = std::move(done_);
  done_ = nullptr;
  PGresult* r = result_;
  result_ = nullptr;
  phase_ = Phase::kNone;
  state_ = State::kReady;
  if (done)
    done(r, r ? std::string() : std::string("no result"));
  if (r)
    PQclear(r);
  if (state_ == State::kReady && phase_ == Phase::kNone)
    owner_->onConnReady(this);
}

void PgConn::exec(const std::string& sql, ResultFn done) {
  done_ = std::move(done);
  phase_ = Phase::kExec;
  state_ = State::kBusy;
  if (!PQsendQuery(conn_, sql.c_str()))
    return fail(lastError());
  flushOutput();
}

void PgConn::execPrepared(const std::string& name, const std::string& sql,
                          const std::vector<std::string>& params, ResultFn done) {
  done_ = std::move(done);
  stmt_name_ = name;
  stmt_sql_ = sql;
  stmt_params_ = params;
  state_ = State::kBusy;
  if (prepared_.count(name))
    return sendPrepared();
  phase_ = Phase::kPrepare;
  if (!PQsendPrepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr))
    return fail(lastError());
  flushOutput();
}

void PgConn::sendPrepared() {
  phase_ = Phase::kExec;
  std::vector<const char*> values;
  std::vector<int> lengths;
  for (const std::string& p : stmt_params_) {
    values.push_back(p.c_str());
    lengths.push_back(static_cast<int>(p.size()));
  }
  if (!PQsendQueryPrepared(conn_, stmt_name_.c_str(), static_cast<int>(values.size()),
                           values.data(), lengths.data(), nullptr, 0))
    return fail(lastError());
  flushOutput();
}

void PgConn::cancel() {
  if (!conn_ || state_ != State::kBusy)
    return;
  PGcancel* c = PQgetCancel(conn_);
  if (!c)
    return;
  struct Work {
    uv_work_t req;
    PGcancel* cancel;
  };
  auto* w = new Work{{}, c};
  w->req.data = w;
  int rc = uv_queue_work(
      loop_, &w->req,
      [](uv_work_t* r) {
        auto* work = static_cast<Work*>(r->data);
        char err[256];
        PQcancel(work->cancel, err, sizeof err);  // blocks: a new connection to the server
      },
      [](uv_work_t* r, int) {
        auto* work = static_cast<Work*>(r->data);
        PQfreeCancel(work->cancel);
        delete work;
      });
  if (rc != 0) {
    PQfreeCancel(c);
    delete w;
  }
}

void PgConn::fail(const std::string& cause) {
  if (state_ == State::kFailed)
    return;
  shutdown(cause);
  owner_->onConnFailed(this, cause);
}

void PgConn::close() {
  shutdown("connection closed");
}

void PgConn::shutdown(const std::string& cause) {
  if (state_ == State::kFailed)
    return;
  state_ = State::kFailed;
  failure_ = cause;
  stopWatching();
  if (timer_) {
    uv_timer_stop(timer_);
    closeAndDelete(timer_);
    timer_ = nullptr;
  }
  if (resolve_) {
    resolve_->data = nullptr;  // its callback frees it
    uv_cancel(reinterpret_cast<uv_req_t*>(resolve_));
    resolve_ = nullptr;
  }
  if (result_) {
    PQclear(result_);
    result_ = nullptr;
  }
  if (conn_) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  phase_ = Phase::kNone;
  ResultFn done = std::move(done_);
  done_ = nullptr;
  if (done)
    done(nullptr, cause);
}

std::string PgConn::lastError() const {
  std::string e = conn_ ? trimmed(PQerrorMessage(conn_)) : std::string();
  return e.empty() ? "connection failed" : e;
}

}  // namespace kw::pg

// One non-blocking libpq connection driven by a libuv loop.
//
//   connect(): the host name (if any) is resolved on libuv's thread pool (a name in the
//   conninfo would make libpq block in getaddrinfo), then PQconnectStartParams + PQconnectPoll
//   with the socket watched by a uv_poll_t, re-armed whenever PQsocket changes (libpq may open a
//   new socket during the connect, e.g. after an SSL fallback). PQsetnonblocking, so sending
//   never blocks the loop; PQflush is retried when the socket is writable.
//
//   One command at a time: exec() for a simple query (LISTEN, SELECT 1), execPrepared() for a
//   prepared statement (prepared on first use, once per connection). The callback gets the
//   first result of the command (nullptr with an error text when the connection failed).
//
//   cancel(): libpq 15's PQcancel blocks (it opens a new connection), so it runs on libuv's
//   thread pool; the cancelled command's result still arrives and goes to its callback.
//
// Notifications (LISTEN) go to the owner as they are read. Destroying the connection closes it
// at once; its libuv handles free themselves in their close callbacks.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace kw::pg {

class PgConn {
public:
  class Owner {
  public:
    virtual void onConnReady(PgConn* conn) = 0;  // connected, no command running
    // The connection failed (connect error, connect timeout, lost): it is closed; the owner
    // deletes it (not from inside this call).
    virtual void onConnFailed(PgConn* conn, const std::string& cause) = 0;
    virtual void onNotify(PgConn*, std::string_view /*channel*/, std::string_view /*payload*/) {}

  protected:
    ~Owner() = default;
  };
  // `result` is owned by the connection and valid during the call only; nullptr when the
  // connection failed first (then `error` says why).
  using ResultFn = std::function<void(const PGresult* result, const std::string& error)>;

  enum class State : uint8_t { kNew, kResolving, kConnecting, kReady, kBusy, kFailed };

  PgConn(uv_loop_t* loop, Owner* owner, std::string conninfo, std::string app_name,
         uint32_t connect_timeout_ms);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  void connect();
  State state() const { return state_; }
  bool ready() const { return state_ == State::kReady; }
  const std::string& failure() const { return failure_; }

  // Only when ready().
  void exec(const std::string& sql, ResultFn done);
  void execPrepared(const std::string& name, const std::string& sql,
                    const std::vector<std::string>& params, ResultFn done);
  // Asks the server to cancel the running command (off the loop thread).
  void cancel();
  // Closes without telling the owner.
  void close();

  // The host to resolve, or "" when libpq needs no name lookup (hostaddr given, numeric host,
  // Unix socket, several hosts). Exposed for tests.
  static std::string hostToResolve(const std::string& conninfo, std::string* numeric_hostaddr);

private:
  enum class Phase : uint8_t { kNone, kPrepare, kExec };

  static void onResolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res);
  static void onPoll(uv_poll_t* h, int status, int events);
  static void onTimer(uv_timer_t* t);

  void startLibpq(const std::string& hostaddr);
  void pollConnect();
  void watch(int events);
  void stopWatching();
  void onSocketEvent(int events);
  void readInput();
  bool deliverNotifies();
  void flushOutput();
  void sendPrepared();
  void fail(const std::string& cause);
  void shutdown(const std::string& cause);
  void finishCommand();
  std::string lastError() const;

  uv_loop_t* loop_;
  Owner* owner_;
  std::string conninfo_;
  std::string app_name_;
  uint32_t connect_timeout_ms_;
  PGconn* conn_ = nullptr;
  State state_ = State::kNew;
  std::string failure_;
  uv_poll_t* poll_ = nullptr;
  int poll_fd_ = -1;
  int poll_events_ = 0;
  uv_timer_t* timer_ = nullptr;
  uv_getaddrinfo_t* resolve_ = nullptr;
  bool want_write_ = false;

  // The command in progress.
  Phase phase_ = Phase::kNone;
  ResultFn done_;
  PGresult* result_ = nullptr;  // first result of the current phase
  std::string stmt_name_;
  std::string stmt_sql_;
  std::vector<std::string> stmt_params_;
  std::unordered_set<std::string> prepared_;
};

}  // namespace kw::pg

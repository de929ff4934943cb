// A worker's upstream connections: a few shared ones per protocol version (RESP2 and RESP3
// replies are forwarded verbatim, so a client is always served by a connection speaking its
// protocol), and a pool of idle clean connections for clients that need to pin one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kw {

class Worker;
class Session;
class UpstreamConn;

class UpstreamPool {
public:
  explicit UpstreamPool(Worker* worker) : worker_(worker) {}

  // Connects the shared RESP2 connections eagerly; RESP3 ones on first use.
  void start();
  void shutdown();

  // A shared connection for `proto` that will accept a request, or nullptr (upstream down; then
  // *cause says why).
  UpstreamConn* pickShared(int proto, std::string* cause);

  // A connection for `owner` alone; it may still be connecting. nullptr (and *cause) if a new
  // connection failed at once (e.g. no file descriptors left).
  UpstreamConn* acquirePinned(int proto, Session* owner, std::string* cause);
  // Returns a pinned connection: pooled when clean and idle, otherwise closed.
  void releasePinned(UpstreamConn* conn);
  // A pinned connection failed or closed: forget it (it frees itself).
  void pinnedGone(UpstreamConn* conn);

  size_t sharedCount() const { return shared_[0].size() + shared_[1].size(); }
  void forEach(void (*fn)(UpstreamConn*, void*), void* arg) const;

private:
  std::vector<UpstreamConn*>& shared(int proto) { return shared_[proto >= 3 ? 1 : 0]; }
  void ensureShared(int proto);

  Worker* worker_;
  std::vector<UpstreamConn*> shared_[2];
  std::vector<UpstreamConn*> idle_pinned_[2];
  std::vector<UpstreamConn*> busy_pinned_;
  size_t next_ = 0;
};

}  // namespace kw

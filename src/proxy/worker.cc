#include "proxy/worker.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/config_loader.h"
#include "common/log.h"
#include "common/net_address.h"
#include "policy/policy.h"
#include "proxy/feature.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/upstream_client.h"
#include "proxy/upstream_conn.h"

namespace kw {

Worker::Worker(unsigned index, SharedState* shared)
    : index_(index), shared_(shared), upstreams_(this), read_buf_(new char[kReadBufferSize]) {
  shared_->snapshot(&config_, &policy_, &commands_, &topology_);
  uv_loop_init(&loop_);
}

Worker::~Worker() {
  uv_loop_close(&loop_);
}

void Worker::startThread() {
  // Initialised here, before the thread exists, because other threads may signal it at once.
  uv_async_init(&loop_, &async_, &Worker::onAsync);
  async_.data = this;
  thread_ = std::thread([this] {
    run();
    if (on_exit_)
      on_exit_();
  });
}

void Worker::join() {
  if (thread_.joinable())
    thread_.join();
}

void Worker::requestDrain() {
  drain_requested_.store(true, std::memory_order_release);
  std::lock_guard<std::mutex> lock(inbox_mu_);
  if (inbox_open_)
    uv_async_send(&async_);
}

void Worker::run() {
  char name[32];
  snprintf(name, sizeof name, "worker %u", index_);
  setThreadLogName(name);

  int rc = 0;
  for (auto& listener : listeners_) {
    std::string error;
    if (!listener->start(&loop_, &Worker::onConnection, this, &error)) {
      KW_LOG_ERROR("%s", error.c_str());
      rc = -1;
    }
  }

  uv_check_init(&loop_, &check_);
  check_.data = this;
  uv_check_start(&check_, &Worker::onCheck);
  uv_timer_init(&loop_, &housekeeping_);
  housekeeping_.data = this;
  uv_timer_start(&housekeeping_, &Worker::onHousekeeping, 1000, 1000);
  uv_timer_init(&loop_, &drain_deadline_);
  drain_deadline_.data = this;

  rebaseClock();
  upstreams_.start();
  upstream_client_ = std::make_unique<UpstreamClient>(this);
  // Each feature adds its gate, request stage and services, in chain order (feature.h).
  for (const auto& feature : shared_->features)
    feature->startWorker(*this);
  if (drain_requested_.load(std::memory_order_acquire))
    beginDrain();
  else if (rc == 0)
    stampHeartbeat();  // listening, stages installed: this worker is ready
  uv_run(&loop_, UV_RUN_DEFAULT);
  KW_LOG_DEBUG("worker loop finished");
}

void Worker::onConnection(uv_stream_t* server, int status) {
  ClientListener* listener = ClientListener::of(server);
  auto* self = static_cast<Worker*>(listener->owner());
  if (status < 0 || self->draining_)
    return;
  // A TLS connection starts from the certificates current now; a reload changes later ones only.
  std::shared_ptr<const TlsContext> tls;
  if (listener->kind() == ListenerKind::kTls)
    tls = self->shared_->tls.serverContext();
  auto* s = new Session(self);
  if (!s->accept(server, std::move(tls)))
    return;
  self->sessions_.push_back(s);
}

void Worker::onCheck(uv_check_t* h) {
  auto* self = static_cast<Worker*>(h->data);
  self->flushDirty();
  self->refreshIfChanged();
}

uint64_t Worker::shared_generation() const {
  return shared_->generation();
}

void Worker::refreshSnapshots() {
  seen_generation_ = shared_->generation();
  auto old_policy = policy_;
  auto old_topology = topology_;
  shared_->snapshot(&config_, &policy_, &commands_, &topology_);
  if (topology_ != old_topology) {
    slot_overrides_.clear();
    ++routing_epoch_;
    upstreams_.onTopology(*topology_);
    for (const auto& listener : topology_listeners_)
      listener(*topology_);
  }
  if (policy_ != old_policy) {
    // Users point into the policy: every session looks its user up again (and a client whose
    // user is gone or disabled is disconnected, as Redis does on ACL DELUSER).
    std::vector<Session*> all = sessions_;
    for (Session* s : all)
      s->onPolicyChanged();
  }
}

void Worker::requestTopologyRefresh(RefreshCause cause) {
  if (shared_->topology_source)
    shared_->topology_source->refresh(cause);
}

std::string Worker::topologyUnknownCause() const {
  if (topology_->nodes().empty())
    return "the upstream's topology is not known yet (no seed has answered)";
  return "no upstream node serves this request now (a slot without a master)";
}

void Worker::flushDirty() {
  // Requests first, so upstream starts working while client replies are written.
  // The lists are swapped with member vectors, not fresh ones, so both keep their capacity and
  // a loop turn allocates nothing. A flush may mark more objects dirty (a session resuming its
  // input sends requests): loop until none are, or nothing would write them before the next
  // event wakes the loop.
  while (!dirty_upstreams_.empty() || !dirty_sessions_.empty()) {
    while (!dirty_upstreams_.empty()) {
      flushing_upstreams_.swap(dirty_upstreams_);
      for (UpstreamConn* c : flushing_upstreams_) {
        c->dirty_listed = false;
        c->flush();
      }
      flushing_upstreams_.clear();
    }
    while (!dirty_sessions_.empty()) {
      flushing_sessions_.swap(dirty_sessions_);
      for (Session* s : flushing_sessions_) {
        s->dirty_listed = false;
        s->flush();
      }
      flushing_sessions_.clear();
    }
  }
  if (draining_)
    maybeFinishDrain();
}

void Worker::markDirty(Session* s) {
  if (s->dirty_listed)
    return;
  s->dirty_listed = true;
  dirty_sessions_.push_back(s);
}

void Worker::markDirty(UpstreamConn* c) {
  if (c->dirty_listed)
    return;
  c->dirty_listed = true;
  dirty_upstreams_.push_back(c);
}

void Worker::forgetDirty(Session* s) {
  if (!s->dirty_listed)
    return;
  s->dirty_listed = false;
  dirty_sessions_.erase(std::remove(dirty_sessions_.begin(), dirty_sessions_.end(), s),
                        dirty_sessions_.end());
}

void Worker::forgetDirty(UpstreamConn* c) {
  if (!c->dirty_listed)
    return;
  c->dirty_listed = false;
  dirty_upstreams_.erase(std::remove(dirty_upstreams_.begin(), dirty_upstreams_.end(), c),
                         dirty_upstreams_.end());
}

void Worker::removeSendWaiter(Session* s) {
  send_waiters_.erase(std::remove(send_waiters_.begin(), send_waiters_.end(), s),
                      send_waiters_.end());
  waking_.erase(std::remove(waking_.begin(), waking_.end(), s), waking_.end());
}

void Worker::wakeSendWaiters() {
  waking_.swap(send_waiters_);
  // Each one checks its own link (and waits again if that one is still full). A session that
  // closes meanwhile removes itself from waking_ too.
  while (!waking_.empty()) {
    Session* s = waking_.back();
    waking_.pop_back();
    s->onSendRoom();
  }
}

void Worker::sessionClosed(Session* s) {
  auto it = std::find(sessions_.begin(), sessions_.end(), s);
  if (it != sessions_.end()) {
    *it = sessions_.back();
    sessions_.pop_back();
  }
}

void Worker::onHousekeeping(uv_timer_t* t) {
  auto* self = static_cast<Worker*>(t->data);
  self->stampHeartbeat();
  self->rebaseClock();
  const uint64_t now = self->nowMs();
  self->upstreams_.housekeeping(now);
  const uint32_t idle_s = self->config_->limits.idle_timeout_s;
  const uint64_t stall_ms = uint64_t{self->config_->limits.reply_stall_timeout_s} * 1000;
  std::vector<Session*> idle, stalled, handshaking;
  for (Session* s : self->sessions_) {
    if (s->closed())
      continue;
    s->onHousekeeping(now);
    if (s->tlsHandshakeOverdue(now))
      handshaking.push_back(s);
    else if (s->stalledOnOutput(now, stall_ms))
      stalled.push_back(s);
    else if (idle_s != 0 && !s->blockedOrSubscribed() && now - s->lastActiveMs() > idle_s * 1000ull)
      idle.push_back(s);
  }
  for (Session* s : handshaking)
    s->failTlsHandshakeTimeout();
  for (Session* s : idle) {
    self->stats_.clients_idle_timeout.add();
    s->close("idle timeout");
  }
  for (Session* s : stalled) {
    self->stats_.clients_output_stalled.add();
    self->stats_.clients_output_limit.add();
    KW_LOG_WARN("client id=%llu is over the reply buffer limit and has read nothing for %llu s; "
                "closing",
                static_cast<unsigned long long>(s->id()),
                static_cast<unsigned long long>(stall_ms / 1000));
    s->close("not reading its replies");
  }
}

bool Worker::post(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(inbox_mu_);
  if (!inbox_open_)
    return false;
  inbox_.push_back(std::move(task));
  uv_async_send(&async_);
  return true;
}

void Worker::onAsync(uv_async_t* h) {
  auto* self = static_cast<Worker*>(h->data);
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(self->inbox_mu_);
    tasks.swap(self->inbox_);
  }
  for (auto& t : tasks)
    t();
  if (self->drain_requested_.load(std::memory_order_acquire) && !self->draining_)
    self->beginDrain();
}

// Graceful stop: no new connections, no new requests; clients get the replies owed to them,
// then are closed. Past the deadline everything still open is closed.
void Worker::beginDrain() {
  draining_ = true;
  for (auto& listener : listeners_)
    listener->close();
  std::vector<Session*> all = sessions_;
  for (Session* s : all)
    s->beginDrain();
  uv_timer_start(&drain_deadline_, &Worker::onDrainDeadline, config_->server.shutdown_deadline_ms,
                 0);
  maybeFinishDrain();
}

void Worker::onDrainDeadline(uv_timer_t* t) {
  auto* self = static_cast<Worker*>(t->data);
  KW_LOG_WARN("shutdown deadline reached with %zu clients still open; closing them",
              self->sessions_.size());
  std::vector<Session*> all = self->sessions_;
  for (Session* s : all)
    s->close("shutdown deadline");
  self->maybeFinishDrain();
}

void Worker::maybeFinishDrain() {
  if (!sessions_.empty() || handles_closed_)
    return;
  closeAllHandles();
}

void Worker::closeAllHandles() {
  handles_closed_ = true;
  std::vector<std::function<void()>> leftover;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_open_ = false;
    leftover.swap(inbox_);
  }
  for (auto& t : leftover)
    t();
  services_.clear();
  stages_.clear();
  gates_.clear();
  upstream_client_.reset();
  upstreams_.shutdown();
  auto close = [](auto* h) {
    auto* handle = reinterpret_cast<uv_handle_t*>(h);
    if (!uv_is_closing(handle))
      uv_close(handle, nullptr);
  };
  close(&check_);
  close(&async_);
  close(&housekeeping_);
  close(&drain_deadline_);
}

}  // namespace kw

namespace kw {

void Worker::rebaseClock() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  unix_base_ns_ = uv_hrtime();
  unix_base_ms_ = static_cast<int64_t>(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
  if (now_ns_ < unix_base_ns_)
    now_ns_ = unix_base_ns_;
}

}  // namespace kw

// A worker: one thread, one libuv loop, its listening sockets (client_listener.h: its own
// SO_REUSEPORT TCP sockets, a dup of the Unix socket). It owns its client sessions, its upstream
// connections, its reply-slot pool and its stats shard; nothing here is touched by another
// thread except the stats (read-only atomics) and the wake-up async.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "proxy/client_listener.h"
#include "proxy/command_table.h"
#include "proxy/dispatch_scratch.h"
#include "proxy/metrics/request_metrics.h"
#include "proxy/out_queue.h"
#include "proxy/reply_slot.h"
#include "proxy/request_decoder.h"
#include "proxy/request_stage.h"
#include "proxy/stats.h"
#include "proxy/topology.h"
#include "proxy/topology_source.h"
#include "proxy/upstream_pool.h"

namespace kw {

class Session;
class UpstreamClient;
class UpstreamConn;
class SharedState;
class CompiledPolicy;

// Background work of a feature that runs on a worker's loop but never on the request path (the
// memory budgets' enforcer, src/budget/). Owned by the worker; destroyed before its upstream links.
class WorkerService {
public:
  virtual ~WorkerService() = default;
};

class Worker {
public:
  Worker(unsigned index, SharedState* shared);
  ~Worker();

  // A socket bound on the caller's thread (so bind errors surface at startup), listened on once
  // the loop runs.
  void addListener(std::unique_ptr<ClientListener> listener) {
    listeners_.push_back(std::move(listener));
  }
  // `on_exit` runs on the worker thread after its loop has ended.
  void setOnExit(std::function<void()> on_exit) { on_exit_ = std::move(on_exit); }
  void startThread();
  void join();
  // Thread-safe: asks the loop to stop accepting and drain.
  void requestDrain();
  // Thread-safe: runs `task` on this worker's loop thread. False if the loop is gone (the task
  // is dropped; the caller accounts for it).
  bool post(std::function<void()> task);

  unsigned index() const { return index_; }
  // Liveness for the service manager's watchdog (service_manager.h): monotonic ms of the loop's
  // last housekeeping tick; 0 until the worker listens. Read from the main thread.
  uint64_t heartbeatMs() const { return heartbeat_ms_.load(std::memory_order_relaxed); }
  uv_loop_t* loop() { return &loop_; }
  const Config& config() const { return *config_; }
  const CommandTable& commands() const { return *commands_; }
  const CompiledPolicy& policy() const { return *policy_; }
  SharedState& shared() { return *shared_; }
  WorkerStats& stats() { return stats_; }
  RequestMetrics& metrics() { return metrics_; }
  const RequestMetrics& metrics() const { return metrics_; }
  const WorkerStats& stats() const { return stats_; }
  SlotPool& slots() { return slots_; }
  DispatchScratch& scratch() { return scratch_; }
  ChunkPool& chunks() { return chunks_; }
  RequestDecoder& decoder() { return decoder_; }
  UpstreamPools& upstreams() { return upstreams_; }

  // The upstream's topology as this worker routes by it (topology.h): taken with the config at a
  // loop turn. A MOVED overrides one slot's node here until the next snapshot.
  const Topology& topology() const { return *topology_; }
  const std::shared_ptr<const Topology>& topologySnapshot() const { return topology_; }
  NodeId nodeForSlot(uint16_t slot) const {
    if (!slot_overrides_.empty()) {
      auto it = slot_overrides_.find(slot);
      if (it != slot_overrides_.end())
        return it->second;
    }
    return topology_->nodeForSlot(slot);
  }
  void overrideSlot(uint16_t slot, NodeId node) {
    slot_overrides_[slot] = node;
    ++routing_epoch_;
  }
  // Changes whenever a slot may have changed node (router.h, Destination::epoch).
  uint64_t routingEpoch() const { return routing_epoch_; }
  // Asks the topology source to look again (rate-limited there).
  void requestTopologyRefresh(RefreshCause cause);
  // Why a request found no node to go to.
  std::string topologyUnknownCause() const;
  // Features that keep per-node state (feeds, loaders) hear of each new snapshot, after the
  // pools have.
  void onTopologyChange(std::function<void(const Topology&)> listener) {
    topology_listeners_.push_back(std::move(listener));
  }
  // The request stages and the feature gates, in chain order (request_stage.h); added by the
  // features (feature.h) when the worker starts.
  const std::vector<std::unique_ptr<RequestStage>>& stages() const { return stages_; }
  void addStage(std::unique_ptr<RequestStage> stage) { stages_.push_back(std::move(stage)); }
  const std::vector<std::unique_ptr<RequestStage>>& gates() const { return gates_; }
  void addGate(std::unique_ptr<RequestStage> gate) { gates_.push_back(std::move(gate)); }
  // The stage that fills misses (read-through), or nullptr; for stages that forward reads
  // themselves (request_stage.h, MissFiller).
  MissFiller* missFiller() const { return miss_filler_; }
  void setMissFiller(MissFiller* filler) { miss_filler_ = filler; }
  void addService(std::unique_ptr<WorkerService> service) {
    services_.push_back(std::move(service));
  }
  // keywarden's own requests to the upstream (upstream_client.h); exists while the loop runs.
  UpstreamClient& upstreamClient() { return *upstream_client_; }
  bool draining() const { return draining_; }
  uint64_t nowMs() const { return uv_now(const_cast<uv_loop_t*>(&loop_)); }

  // One clock read per batch of input (a read callback), shared by every request and reply in
  // it: latency, round trips and timeouts need no finer grain, and on a VM a clock read is tens
  // of nanoseconds, a real share of a pipelined request's cost.
  void stampNow() { now_ns_ = uv_hrtime(); }
  uint64_t nowNs() const { return now_ns_; }
  // Unix time in ms, derived from the batch timestamp (re-based every second).
  int64_t unixNowMs() const {
    return unix_base_ms_ + static_cast<int64_t>((now_ns_ - unix_base_ns_) / 1000000);
  }

  char* readBuffer() { return read_buf_.get(); }
  static constexpr size_t kReadBufferSize = 64 * 1024;

  // Takes a newer config/policy snapshot if one was published. Called before each batch of
  // client input, so a request that arrives after a reload was answered runs under the new one.
  void refreshIfChanged() {
    if (shared_generation() != seen_generation_)
      refreshSnapshots();
  }

  void markDirty(Session* s);
  void markDirty(UpstreamConn* c);
  void forgetDirty(Session* s);
  void forgetDirty(UpstreamConn* c);

  // Zero-copy forwarding: while a session dispatches requests from its input buffer (or a link
  // delivers replies from its own), that buffer's block is named here, and a send queue given
  // a large span of it (kShareMin or more) keeps a reference instead of copying the bytes.
  static constexpr size_t kShareMin = 64 * 1024;
  class BytesOwnerScope {
  public:
    BytesOwnerScope(Worker* w, SharedBlock* block) : w_(w), saved_(w->bytes_owner_) {
      w->bytes_owner_ = block;
    }
    ~BytesOwnerScope() { w_->bytes_owner_ = saved_; }
    BytesOwnerScope(const BytesOwnerScope&) = delete;
    BytesOwnerScope& operator=(const BytesOwnerScope&) = delete;

  private:
    Worker* w_;
    SharedBlock* saved_;
  };
  // The block `bytes` lies in, when it is large and in the block being processed now.
  SharedBlock* sharedOwnerOf(std::string_view bytes) const {
    return bytes.size() >= kShareMin && bytes_owner_ &&
                   bytes_owner_->contains(bytes.data(), bytes.size())
               ? bytes_owner_
               : nullptr;
  }

  // Back-pressure towards Redis: a session whose upstream link has more than kSendQueueHigh bytes
  // waiting to be sent stops reading its client until the link is down to kSendQueueLow (as
  // Redis, which reads a client only as fast as it runs its commands).
  static constexpr size_t kSendQueueHigh = 16u << 20;
  static constexpr size_t kSendQueueLow = 4u << 20;
  void addSendWaiter(Session* s) { send_waiters_.push_back(s); }
  void removeSendWaiter(Session* s);
  // An upstream link's send queue is down to `queued` bytes.
  void upstreamDrained(size_t queued) {
    if (!send_waiters_.empty() && queued <= kSendQueueLow)
      wakeSendWaiters();
  }

  void sessionClosed(Session* s);
  const std::vector<Session*>& sessions() const { return sessions_; }

private:
  uint64_t shared_generation() const;
  static void onConnection(uv_stream_t* server, int status);
  static void onCheck(uv_check_t* h);
  static void onAsync(uv_async_t* h);
  static void onHousekeeping(uv_timer_t* t);
  static void onDrainDeadline(uv_timer_t* t);

  void run();
  void flushDirty();
  void refreshSnapshots();
  void beginDrain();
  void maybeFinishDrain();
  void closeAllHandles();
  void wakeSendWaiters();

  const unsigned index_;
  SharedState* shared_;
  ChunkPool chunks_;                    // first: outlives every connection's queue
  SharedBlock* bytes_owner_ = nullptr;  // see BytesOwnerScope
  std::shared_ptr<const Config> config_;
  std::shared_ptr<const CompiledPolicy> policy_;
  std::shared_ptr<const CommandTable> commands_;
  std::shared_ptr<const Topology> topology_;
  std::unordered_map<uint16_t, NodeId> slot_overrides_;
  uint64_t routing_epoch_ = 1;
  std::vector<std::function<void(const Topology&)>> topology_listeners_;
  uv_loop_t loop_{};
  std::vector<std::unique_ptr<ClientListener>> listeners_;
  uv_check_t check_{};
  uv_async_t async_{};
  uv_timer_t housekeeping_{};
  uv_timer_t drain_deadline_{};
  std::thread thread_;
  std::function<void()> on_exit_;
  std::atomic<bool> drain_requested_{false};
  std::atomic<uint64_t> heartbeat_ms_{0};
  void stampHeartbeat() { heartbeat_ms_.store(uv_hrtime() / 1000000, std::memory_order_relaxed); }
  bool draining_ = false;
  bool handles_closed_ = false;
  uint64_t seen_generation_ = 0;
  uint64_t now_ns_ = 0;
  int64_t unix_base_ms_ = 0;
  uint64_t unix_base_ns_ = 0;
  void rebaseClock();

  WorkerStats stats_;
  RequestMetrics metrics_;
  SlotPool slots_;
  DispatchScratch scratch_;
  RequestDecoder decoder_;
  UpstreamPools upstreams_;
  std::vector<std::unique_ptr<RequestStage>> stages_;
  std::vector<std::unique_ptr<RequestStage>> gates_;
  MissFiller* miss_filler_ = nullptr;
  std::vector<std::unique_ptr<WorkerService>> services_;
  std::unique_ptr<UpstreamClient> upstream_client_;
  std::unique_ptr<char[]> read_buf_;
  std::vector<Session*> sessions_;
  std::vector<Session*> send_waiters_;
  std::vector<Session*> waking_;  // the waiters being woken (wakeSendWaiters)
  std::mutex inbox_mu_;
  std::vector<std::function<void()>> inbox_;
  bool inbox_open_ = true;
  std::vector<Session*> dirty_sessions_;
  std::vector<UpstreamConn*> dirty_upstreams_;
  std::vector<Session*> flushing_sessions_;  // the batch being flushed (see flushDirty)
  std::vector<UpstreamConn*> flushing_upstreams_;
};

}  // namespace kw

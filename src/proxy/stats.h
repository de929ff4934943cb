// Per-worker counters. One writer (the worker's loop thread) and any number of readers (the
// scrape/INFO path summing all workers), so an increment is a relaxed load+store: no lock prefix
// on the request path. The list is data: add a line to KW_WORKER_COUNTERS and everything that
// reports counters (INFO, metrics) picks it up.
#pragma once

#include <atomic>
#include <cstdint>

namespace kw {

#define KW_WORKER_COUNTERS(X)                                                                      \
  X(connections_accepted, "client connections accepted")                                           \
  X(connections_rejected_max_clients, "client connections refused: max clients reached")           \
  X(connections_closed, "client connections closed")                                               \
  X(commands_total, "commands received from clients")                                              \
  X(commands_local, "commands answered by the proxy itself")                                       \
  X(commands_forwarded, "commands forwarded upstream")                                             \
  X(cluster_moved, "MOVED replies followed to the slot's new master")                              \
  X(cluster_ask, "ASK replies followed to the importing node")                                     \
  X(cluster_tryagain, "TRYAGAIN replies retried after a pause")                                    \
  X(cluster_split, "commands split by hash slot over cluster nodes")                               \
  X(cluster_fanout, "commands sent to every cluster master")                                       \
  X(errors_protocol, "clients closed for malformed RESP, oversized bulk or array")                 \
  X(errors_upstream_down, "commands refused because upstream was unavailable")                     \
  X(errors_upstream_lost, "in-flight commands failed because their upstream connection broke")     \
  X(errors_timeout, "upstream connections dropped for a request timeout")                          \
  X(errors_refused, "commands refused by the proxy (unknown/forbidden)")                           \
  X(clients_output_limit, "clients disconnected for exceeding the reply buffer limit")             \
  X(clients_query_limit, "clients disconnected for exceeding the query buffer limit")              \
  X(clients_idle_timeout, "clients disconnected for idling")                                       \
  X(upstream_connects, "upstream connections established")                                         \
  X(upstream_connect_failures, "upstream connection attempts that failed")                         \
  X(upstream_reconnects, "upstream reconnections after a failure")                                 \
  X(upstream_tls_handshakes, "TLS handshakes with the upstream completed")                         \
  X(upstream_tls_resumed, "TLS handshakes with the upstream that resumed an earlier session")      \
  X(upstream_tls_handshake_failures, "TLS handshakes with the upstream that failed or timed out")  \
  X(upstream_unexpected_push, "push frames dropped on shared upstream connections")                \
  X(upstream_not_master, "new upstream links closed: the node was not the master (ROLE check)")    \
  X(upstream_readonly_closed, "upstream links closed after -READONLY: the master was demoted")     \
  X(upstream_topology_waits, "requests that waited for a new master instead of failing at once")   \
  X(upstream_topology_wait_timeouts, "requests that waited for a new master past the timeout")     \
  X(upstream_passthrough_replies, "large replies passed to their client in parts as they arrived") \
  X(upstream_send_waits, "times a client's input paused while its upstream send queue was full")   \
  X(clients_slow_reader_links, "clients moved to a link of their own for not reading replies")     \
  X(clients_aborted_midreply,                                                                      \
    "clients closed: their upstream link broke in the middle of a reply")                          \
  X(pinned_acquired, "pinned upstream connections handed to a client")                             \
  X(pinned_returned, "pinned upstream connections returned clean to the pool")                     \
  X(pinned_closed, "pinned upstream connections closed instead of pooled (not resettable)")        \
  X(pinned_resets_failed, "pinned upstream connections whose RESET or handshake reply was wrong")  \
  X(clients_output_stalled, "clients disconnected: over the reply buffer cap and not reading")     \
  X(bytes_in, "bytes read from clients")                                                           \
  X(bytes_out, "bytes written to clients")

class Counter {
public:
  void add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> v_{0};
};

// Gauges are written by the owning worker as well, and may go down.
class Gauge {
public:
  void add(int64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  int64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
  std::atomic<int64_t> v_{0};
};

// One upstream node's traffic from one worker (a cluster's nodes; one Redis is node 0).
struct NodeCounters {
  Counter requests;       // commands sent to the node
  Counter replies;        // replies read from it
  Counter rtt_ns;         // their round trips, summed
  Counter link_failures;  // its links that failed (connect refused, lost, timed out)
};

struct WorkerStats {
#define KW_DECLARE_COUNTER(name, help) Counter name;
  KW_WORKER_COUNTERS(KW_DECLARE_COUNTER)
#undef KW_DECLARE_COUNTER
  Gauge clients_connected;
  Gauge upstream_connected;
  Gauge upstream_inflight;
  // By node id; nodes past the last entry are not counted per node (a cluster of more than 64
  // nodes still works: its per-node figures stop at 64).
  static constexpr size_t kNodeStats = 64;
  NodeCounters nodes[kNodeStats];
  NodeCounters* node(uint32_t id) {
    return id < kNodeStats ? &nodes[id] : nullptr;
  }
};

}  // namespace kw

// Per-worker request metrics shard: commands by (command, namespace, outcome), latency
// histograms per command, upstream round trips, reads hit/miss and TTL actions per namespace.
//
// One writer (the owning worker's thread) and any number of readers (the scrape), like
// WorkerStats: every increment is a relaxed load+store, no lock prefix, no allocation, no lock.
// Shards are summed at scrape time (MetricsCollector). prometheus-cpp's own metrics were measured
// against this (bench/metrics_record_bench.cc): its Histogram::Observe takes a mutex and its
// Counter is a CAS loop on a double shared by every worker.
//
// Layout: dense arrays indexed by (command, namespace, outcome), so recording is one index
// computation and no probing. The arrays live in one anonymous mapping whose pages the kernel
// commits on first write: the worst case is bounded (kMappedBytes, about 1.4 MB per worker) and a
// worker that sees 20 commands in 2 namespaces commits a few tens of KiB.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace kw {

// Labels are bounded by construction: command indexes past the table's capacity and unknown
// commands fold into kOtherCommand, namespaces past kMaxNamespaces into kOtherNamespace.
inline constexpr uint32_t kMaxCommands = 320;  // the built-in table has 231 rows
inline constexpr uint32_t kOtherCommand = kMaxCommands - 1;
inline constexpr uint32_t kMaxNamespaces = 64;
inline constexpr uint32_t kNoNamespace = kMaxNamespaces;         // label "none"
inline constexpr uint32_t kOtherNamespace = kMaxNamespaces + 1;  // label "other"
inline constexpr uint32_t kNamespaceSlots = kMaxNamespaces + 2;

enum class Outcome : uint8_t {
  kOk,
  kError,  // the upstream (or the proxy emulating it) answered with an error reply
  kUpstreamDown,
  kRefusedAcl,
  kRefusedShape,
  kRefusedTtl,
  kRefusedAuth,
  kRefusedOther,
  kRefusedRateLimit,
  kCount
};

enum class TtlCounter : uint8_t {
  kDefaultApplied,
  kClamped,
  kRefusedMax,
  kRefusedPersist,
  kFollowup,
  kRefusedNoExpiry,
  kCount
};

inline constexpr size_t kOutcomes = static_cast<size_t>(Outcome::kCount);
inline constexpr size_t kTtlCounters = static_cast<size_t>(TtlCounter::kCount);

// Label values ("ok", "refused_acl", "default_applied", ...).
std::string_view outcomeName(Outcome o);
std::string_view ttlCounterName(TtlCounter a);

// Upper bounds in nanoseconds: fine enough for tens of microseconds (a proxied GET on loopback),
// wide enough for a slow blocking command. The last bucket (+Inf) is implicit.
inline constexpr uint64_t kLatencyBoundsNs[] = {
    10'000,      25'000,      50'000,        100'000,        250'000,    500'000,
    1'000'000,   2'500'000,   5'000'000,     10'000'000,     25'000'000, 50'000'000,
    100'000'000, 250'000'000, 1'000'000'000, 10'000'000'000,
};
inline constexpr size_t kLatencyBounds = std::size(kLatencyBoundsNs);
inline constexpr size_t kLatencyBuckets = kLatencyBounds + 1;  // + the +Inf bucket

// A histogram as it is stored: per-bucket (not cumulative) counts and the sum in nanoseconds.
struct HistogramSnapshot {
  uint64_t buckets[kLatencyBuckets] = {};
  uint64_t sum_ns = 0;
  uint64_t count() const;
  void add(const HistogramSnapshot& o);
};

class RequestMetrics {
public:
  RequestMetrics();
  ~RequestMetrics();
  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;

  // Writer side: only the owning worker's thread.
  void recordCommand(uint32_t cmd, uint32_t ns, Outcome o, uint64_t latency_ns) {
    cmd = cmd < kMaxCommands ? cmd : kOtherCommand;
    ns = clampNs(ns);
    size_t oi = static_cast<size_t>(o) < kOutcomes ? static_cast<size_t>(o) : 0;
    bump(commands_[(static_cast<size_t>(cmd) * kNamespaceSlots + ns) * kOutcomes + oi]);
    observe(latency_ + static_cast<size_t>(cmd) * kHistWords, latency_ns);
  }
  void recordUpstreamRtt(uint64_t ns) { observe(rtt_, ns); }
  void recordRead(uint32_t ns, bool hit) { bump(reads_[clampNs(ns) * 2 + (hit ? 0 : 1)]); }
  void recordTtl(uint32_t ns, TtlCounter a) {
    size_t ai = static_cast<size_t>(a) < kTtlCounters ? static_cast<size_t>(a) : 0;
    bump(ttl_[clampNs(ns) * kTtlCounters + ai]);
  }
  void recordAuthFailure() { bump(*auth_failures_); }

  // Reader side: any thread, relaxed loads (a scrape may see a command counted before its
  // latency; the next scrape is consistent again).
  uint64_t commands(uint32_t cmd, uint32_t ns, Outcome o) const;
  HistogramSnapshot latency(uint32_t cmd) const;
  HistogramSnapshot upstreamRtt() const;
  uint64_t reads(uint32_t ns, bool hit) const;
  uint64_t ttl(uint32_t ns, TtlCounter a) const;
  uint64_t authFailures() const;

  // The whole mapping; what a worker commits is the pages it wrote to.
  static size_t mappedBytes();

private:
  static constexpr size_t kHistWords = kLatencyBuckets + 1;  // buckets, then the sum

  static uint32_t clampNs(uint32_t ns) { return ns < kNamespaceSlots ? ns : kOtherNamespace; }
  static void bump(uint64_t& c) {
    std::atomic_ref<uint64_t> a(c);
    a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  static void observe(uint64_t* h, uint64_t ns) {
    size_t b = 0;
    while (b < kLatencyBounds && ns > kLatencyBoundsNs[b])
      ++b;
    bump(h[b]);
    std::atomic_ref<uint64_t> sum(h[kLatencyBuckets]);
    sum.store(sum.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
  }
  static uint64_t load(const uint64_t& c) {
    return std::atomic_ref<uint64_t>(const_cast<uint64_t&>(c)).load(std::memory_order_relaxed);
  }
  static HistogramSnapshot snapshot(const uint64_t* h);

  // Views into base_ (uint64_t words accessed only through std::atomic_ref).
  void* base_ = nullptr;
  uint64_t* commands_ = nullptr;  // [kMaxCommands][kNamespaceSlots][kOutcomes]
  uint64_t* latency_ = nullptr;   // [kMaxCommands][kHistWords]
  uint64_t* rtt_ = nullptr;       // [kHistWords]
  uint64_t* reads_ = nullptr;     // [kNamespaceSlots][hit, miss]
  uint64_t* ttl_ = nullptr;       // [kNamespaceSlots][kTtlCounters]
  uint64_t* auth_failures_ = nullptr;
};

}  // namespace kw

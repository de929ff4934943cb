#include "proxy/metrics/request_metrics.h"

#include <sys/mman.h>

#include <new>

namespace kw {
namespace {

constexpr size_t kHistWords = kLatencyBuckets + 1;
constexpr size_t kCommandWords = size_t{kMaxCommands} * kNamespaceSlots * kOutcomes;
constexpr size_t kLatencyWords = size_t{kMaxCommands} * kHistWords;
constexpr size_t kReadWords = size_t{kNamespaceSlots} * 2;
constexpr size_t kTtlWords = size_t{kNamespaceSlots} * kTtlCounters;
constexpr size_t kTotalWords =
    kCommandWords + kLatencyWords + kHistWords + kReadWords + kTtlWords + 1;
constexpr size_t kMappedBytes = kTotalWords * sizeof(uint64_t);

constexpr std::string_view kOutcomeNames[] = {
    "ok",          "error",        "upstream_down", "refused_acl",       "refused_shape",
    "refused_ttl", "refused_auth", "refused_other", "refused_ratelimit",
};
static_assert(std::size(kOutcomeNames) == kOutcomes);

constexpr std::string_view kTtlActionNames[] = {
    "default_applied", "clamped", "refused_max", "refused_persist", "followup", "refused_no_expiry",
};
static_assert(std::size(kTtlActionNames) == kTtlCounters);

static_assert(std::atomic_ref<uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<uint64_t>::required_alignment <= alignof(uint64_t));

}  // namespace

std::string_view outcomeName(Outcome o) {
  size_t i = static_cast<size_t>(o);
  return i < kOutcomes ? kOutcomeNames[i] : "unknown";
}

std::string_view ttlCounterName(TtlCounter a) {
  size_t i = static_cast<size_t>(a);
  return i < kTtlCounters ? kTtlActionNames[i] : "unknown";
}

uint64_t HistogramSnapshot::count() const {
  uint64_t n = 0;
  for (uint64_t b : buckets)
    n += b;
  return n;
}

void HistogramSnapshot::add(const HistogramSnapshot& o) {
  for (size_t i = 0; i < kLatencyBuckets; ++i)
    buckets[i] += o.buckets[i];
  sum_ns += o.sum_ns;
}

RequestMetrics::RequestMetrics() {
  // An anonymous mapping is zero-filled and committed page by page on first write, which is
  // what keeps the dense layout cheap; malloc would not promise either (it may reuse and
  // memset a freed chunk).
  void* p = mmap(nullptr, kMappedBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw std::bad_alloc();  // at worker construction, never on a request
  base_ = p;
  uint64_t* w = static_cast<uint64_t*>(p);
  commands_ = w;
  w += kCommandWords;
  latency_ = w;
  w += kLatencyWords;
  rtt_ = w;
  w += kHistWords;
  reads_ = w;
  w += kReadWords;
  ttl_ = w;
  w += kTtlWords;
  auth_failures_ = w;
}

RequestMetrics::~RequestMetrics() {
  munmap(base_, kMappedBytes);
}

size_t RequestMetrics::mappedBytes() {
  return kMappedBytes;
}

uint64_t RequestMetrics::commands(uint32_t cmd, uint32_t ns, Outcome o) const {
  if (cmd >= kMaxCommands || ns >= kNamespaceSlots || static_cast<size_t>(o) >= kOutcomes) {
    return 0;
  }
  return load(commands_[(static_cast<size_t>(cmd) * kNamespaceSlots + ns) * kOutcomes +
                        static_cast<size_t>(o)]);
}

HistogramSnapshot RequestMetrics::snapshot(const uint64_t* h) {
  HistogramSnapshot s;
  for (size_t i = 0; i < kLatencyBuckets; ++i)
    s.buckets[i] = load(h[i]);
  s.sum_ns = load(h[kLatencyBuckets]);
  return s;
}

HistogramSnapshot RequestMetrics::latency(uint32_t cmd) const {
  if (cmd >= kMaxCommands)
    return {};
  return snapshot(latency_ + static_cast<size_t>(cmd) * kHistWords);
}

HistogramSnapshot RequestMetrics::upstreamRtt() const {
  return snapshot(rtt_);
}

uint64_t RequestMetrics::reads(uint32_t ns, bool hit) const {
  return ns < kNamespaceSlots ? load(reads_[ns * 2 + (hit ? 0 : 1)]) : 0;
}

uint64_t RequestMetrics::ttl(uint32_t ns, TtlCounter a) const {
  if (ns >= kNamespaceSlots || static_cast<size_t>(a) >= kTtlCounters)
    return 0;
  return load(ttl_[ns * kTtlCounters + static_cast<size_t>(a)]);
}

uint64_t RequestMetrics::authFailures() const {
  return load(*auth_failures_);
}

}  // namespace kw

// GCRA for the proxy's protective limits (per user, per namespace, per client address): a
// limit of `rate` requests per `period` admits `burst` requests at once, then one per emission
// interval (period / rate). The state is one theoretical arrival time (TAT) on the workers'
// monotonic clock; the TAT at or before now means a full bucket.
//
// A GcraCell is that state shared by every worker thread: one atomic, updated by
// compare-and-swap, so admitting a request takes no lock. The rate is not in the cell: it comes
// from the configuration of the moment, so a reload changes a limit without losing its state.
#pragma once

#include <atomic>
#include <cstdint>

namespace kw {

struct GcraRate {
  int64_t emission = 0;   // clock units per request
  int64_t tolerance = 0;  // emission * burst: how far the TAT may run ahead of now

  // `period_units` in the clock's unit (ns on the request path). rate, burst >= 1.
  static GcraRate perPeriod(uint64_t rate, uint64_t period_units, uint64_t burst);
};

struct GcraDecision {
  bool allowed = false;
  int64_t tat = 0;          // the state after the decision
  int64_t retry_after = 0;  // refused: when one request would be admitted, from now
};

// One request at `now` against state `tat`. Pure; the cell and the AUTH throttle use it.
inline GcraDecision gcraDecide(const GcraRate& r, int64_t tat, int64_t now) {
  const int64_t base = tat > now ? tat : now;
  const int64_t next = base + r.emission;
  if (next - now > r.tolerance)
    return {false, tat, next - r.tolerance - now};
  return {true, next, 0};
}

// How many requests `tat` leaves room for at `now`.
inline int64_t gcraAvailable(const GcraRate& r, int64_t tat, int64_t now) {
  const int64_t ahead = tat > now ? tat - now : 0;
  return r.emission > 0 ? (r.tolerance - ahead) / r.emission : 0;
}

class alignas(64) GcraCell {
public:
  GcraDecision admit(const GcraRate& r, int64_t now) {
    int64_t tat = tat_.load(std::memory_order_relaxed);
    for (;;) {
      const GcraDecision d = gcraDecide(r, tat, now);
      if (!d.allowed || tat_.compare_exchange_weak(tat, d.tat, std::memory_order_relaxed))
        return d;
    }
  }
  // Gives back one request admitted earlier (a later limit refused the same command).
  void refund(const GcraRate& r) { tat_.fetch_sub(r.emission, std::memory_order_relaxed); }

  int64_t tat() const { return tat_.load(std::memory_order_relaxed); }
  void countRefusal() { refused_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

private:
  std::atomic<int64_t> tat_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace kw

// GCRA for the proxy's protective limits (per user, per namespace, per client address): a
// limit of `rate` requests per `period` admits `burst` requests at once, then one per emission
// interval (period / rate). The state is one theoretical arrival time (TAT) on the workers'
// monotonic clock; the TAT at or before now means a full bucket.
//
// A GcraCell is that state shared by every worker thread: one atomic, updated by
// compare-and-swap, so admitting a request takes no lock. The rate is not in the cell: it comes
// from the configuration of the moment, so a reload changes a limit without losing its state.
//
// Large limits (burst >= 128) are taken in batches: a worker takes up to burst / 64 (at most
// 64) requests' worth from the cell in one compare-and-swap and spends them on its own for at
// most 1 ms, so workers sharing a hot limiter do not pass its cache line back and forth on every
// request. Nothing is admitted beyond the limit (every request goes through the cell); a
// worker's unspent batch is forgotten after 1 ms, which can refuse a few requests early on
// another worker. Smaller limits are exact per request.
#pragma once

#include <atomic>
#include <cstdint>

namespace kw {

struct GcraRate {
  int64_t emission = 0;   // clock units per request
  int64_t tolerance = 0;  // emission * burst: how far the TAT may run ahead of now
  int64_t batch = 1;      // requests a worker takes from the cell at once

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

  // Up to `want` requests at once (as many as there is room for, at least one); *taken says how
  // many. Refused when there is no room for one.
  GcraDecision take(const GcraRate& r, int64_t now, int64_t want, int64_t* taken) {
    int64_t tat = tat_.load(std::memory_order_relaxed);
    for (;;) {
      const int64_t room = gcraAvailable(r, tat, now);
      if (room < 1)
        return gcraDecide(r, tat, now);  // refused, with its retry time
      const int64_t n = room < want ? room : want;
      const int64_t next = (tat > now ? tat : now) + n * r.emission;
      if (tat_.compare_exchange_weak(tat, next, std::memory_order_relaxed)) {
        *taken = n;
        return {true, next, 0};
      }
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

// One request from `cell` for the calling thread: from the thread's batch when the limit is
// large, else straight from the cell. `now` on the ns clock.
GcraDecision gcraAdmit(GcraCell& cell, const GcraRate& r, int64_t now);

}  // namespace kw

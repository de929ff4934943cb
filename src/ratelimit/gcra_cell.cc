#include "ratelimit/gcra_cell.h"

#include <cstddef>
#include <cstdint>

namespace kw {
namespace {

constexpr uint64_t kBatchMinBurst = 128;
constexpr uint64_t kBatchMax = 64;
constexpr int64_t kBatchLifeNs = 1'000'000;  // an unspent batch is forgotten after 1 ms
constexpr size_t kBatchSlots = 16;

// A thread's batches, by cell (direct-mapped: a collision only costs an early refill). A cell
// freed and another allocated at its address inherits at most one batch for at most 1 ms.
struct Batch {
  const GcraCell* cell = nullptr;
  int64_t left = 0;
  int64_t until = 0;
};
thread_local Batch t_batches[kBatchSlots];

}  // namespace

GcraRate GcraRate::perPeriod(uint64_t rate, uint64_t period_units, uint64_t burst) {
  // Saturating: a silly configuration must not make the arithmetic undefined. The TAT stays
  // within now + tolerance + emission, so both are kept far below 2^63 minus any clock value.
  constexpr uint64_t kMax = uint64_t{1} << 61;
  GcraRate r;
  const uint64_t emission = rate == 0 ? kMax : period_units / rate;
  r.emission = static_cast<int64_t>(emission == 0 ? 1 : emission > kMax ? kMax : emission);
  const unsigned __int128 tolerance = static_cast<unsigned __int128>(r.emission) * burst;
  r.tolerance = static_cast<int64_t>(tolerance > kMax ? kMax : tolerance);
  if (burst >= kBatchMinBurst)
    r.batch = static_cast<int64_t>(burst / 64 < kBatchMax ? burst / 64 : kBatchMax);
  return r;
}

GcraDecision gcraAdmit(GcraCell& cell, const GcraRate& r, int64_t now) {
  if (r.batch <= 1)
    return cell.admit(r, now);
  Batch& b = t_batches[(reinterpret_cast<uintptr_t>(&cell) / alignof(GcraCell)) % kBatchSlots];
  if (b.cell == &cell && b.left > 0 && now <= b.until) {
    --b.left;
    return {true, 0, 0};
  }
  int64_t taken = 0;
  const GcraDecision d = cell.take(r, now, r.batch, &taken);
  if (d.allowed)
    b = {&cell, taken - 1, now + kBatchLifeNs};
  return d;
}

}  // namespace kw

#include "ratelimit/gcra_cell.h"

#include <limits>

namespace kw {

GcraRate GcraRate::perPeriod(uint64_t rate, uint64_t period_units, uint64_t burst) {
  // Saturating: a silly configuration must not make the arithmetic undefined. The TAT stays
  // within now + tolerance + emission, so both are kept far below 2^63 minus any clock value.
  constexpr uint64_t kMax = uint64_t{1} << 61;
  GcraRate r;
  const uint64_t emission = rate == 0 ? kMax : period_units / rate;
  r.emission = static_cast<int64_t>(emission == 0 ? 1 : emission > kMax ? kMax : emission);
  const unsigned __int128 tolerance = static_cast<unsigned __int128>(r.emission) * burst;
  r.tolerance = static_cast<int64_t>(tolerance > kMax ? kMax : tolerance);
  return r;
}

}  // namespace kw

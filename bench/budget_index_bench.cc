// Memory and speed of the memory budgets' per-key index (src/budget/key_index.h) at 1k, 100k and
// 1M keys: bytes per key beyond the key itself (the target is at most 48), by the index's own
// count (allocation sizes as the allocator reports them) and by the process's resident memory,
// and the cost of the operations the enforcer does per invalidation (a lookup) and per new key.
//
//   meson compile -C build && build/budget_index_bench
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "budget/key_index.h"

namespace {

long rssKiB() {
  FILE* f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
      resident = 0;
    fclose(f);
  }
  return resident * 4;
}

double nsPer(std::chrono::steady_clock::duration d, size_t n) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()) /
         static_cast<double>(n);
}

}  // namespace

int main() {
  printf("| keys | key bytes (avg) | index bytes/key beyond the key | RSS bytes/key beyond the key "
         "| insert ns | lookup ns | remove ns |\n|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t n : {size_t{1000}, size_t{100000}, size_t{1000000}}) {
    std::vector<std::string> keys;
    keys.reserve(n);
    size_t key_bytes = 0;
    for (size_t i = 0; i < n; ++i) {
      keys.push_back("doc:processing:" + std::to_string(i * 2654435761u % 1000000007u));
      key_bytes += keys.back().size();
    }
    const long rss_before = rssKiB();
    kw::KeyIndex idx;
    bool created = false;
    auto t0 = std::chrono::steady_clock::now();
    for (const std::string& k : keys)
      idx.setBytes(idx.insert(k, &created), 1100);
    auto t1 = std::chrono::steady_clock::now();
    size_t found = 0;
    for (size_t r = 0; r < 3; ++r)
      for (const std::string& k : keys)
        found += idx.find(k) != kw::KeyIndex::kNone;
    auto t2 = std::chrono::steady_clock::now();
    const long rss_after = rssKiB();
    const double index_per_key =
        static_cast<double>(idx.memoryBytes() - key_bytes) / static_cast<double>(n);
    const double rss_per_key =
        (static_cast<double>(rss_after - rss_before) * 1024.0 - static_cast<double>(key_bytes)) /
        static_cast<double>(n);
    auto t3 = std::chrono::steady_clock::now();
    for (const std::string& k : keys)
      idx.remove(idx.find(k));
    auto t4 = std::chrono::steady_clock::now();
    printf("| %zu | %.1f | %.1f | %.1f | %.0f | %.0f | %.0f |\n", n,
           static_cast<double>(key_bytes) / static_cast<double>(n), index_per_key,
           n >= 100000 ? rss_per_key : 0.0, nsPer(t1 - t0, n), nsPer(t2 - t1, 3 * n),
           nsPer(t4 - t3, n));
    if (found != 3 * n)
      return 1;
  }
  printf("\n(RSS is shown from 100k keys on; below that the allocator's own slack dominates.)\n");
  return 0;
}

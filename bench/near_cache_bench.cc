// The near cache's design choices, measured without the network (bench/nearcache.sh runs the
// end-to-end numbers):
//  1. hit ratio per byte: one cache shared by the workers vs one cache per worker (each with half
//     the budget, each seeing half of the reads), and first-read vs second-read admission, on a
//     zipf (s = 0.99) read mix over 100k keys with 5% writes (each write invalidates its key);
//  2. the cost of a hit: per-worker caches (no lock) vs one cache striped over mutexes, two
//     threads reading 1,000 hot keys;
//  3. memory per entry.
//   near_cache_bench [reads (2000000)]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cache/near_cache.h"

namespace {

using kw::keyHash;
using kw::NearCache;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

std::string keyName(int rank) {
  char b[40];
  snprintf(b, sizeof b, "profile:%012d", rank);
  return b;
}

// The stage's second-read filter: a direct-mapped table of fingerprints of keys read once.
struct Admission {
  explicit Admission(size_t slots) : ghost(slots, 0) {}
  bool admit(uint64_t h) {
    const size_t slot = h & (ghost.size() - 1);
    const auto fp = static_cast<uint32_t>(h >> 32) | 1u;
    if (ghost[slot] == fp) {
      ghost[slot] = 0;
      return true;
    }
    ghost[slot] = fp;
    return false;
  }
  std::vector<uint32_t> ghost;
};

struct SimResult {
  double hit_ratio;
  uint64_t bytes;
};

SimResult simulate(size_t caches, uint64_t budget, bool second_read, const std::vector<int>& ops,
                   const std::vector<bool>& is_write, int value_size) {
  std::vector<std::unique_ptr<NearCache>> cs;
  std::vector<Admission> adm;
  for (size_t i = 0; i < caches; ++i) {
    cs.push_back(std::make_unique<NearCache>(budget / caches, nullptr));
    size_t slots = 1;
    while (slots < std::clamp<uint64_t>(budget / caches / 64, 4096, 1u << 22))
      slots <<= 1;
    adm.emplace_back(slots);
  }
  const std::string value(static_cast<size_t>(value_size), 'v');
  std::mt19937_64 rng(7);
  uint64_t hits = 0, reads = 0;
  for (size_t i = 0; i < ops.size(); ++i) {
    const std::string key = keyName(ops[i]);
    const uint64_t h = keyHash(key);
    if (is_write[i]) {
      for (auto& c : cs)  // every worker's feed reports it
        c->invalidate(key, h);
      continue;
    }
    ++reads;
    const size_t w = caches == 1 ? 0 : rng() % caches;  // the kernel spreads clients
    NearCache& c = *cs[w];
    if (c.lookup(key, h, 0)) {
      ++hits;
      continue;
    }
    if (second_read && !adm[w].admit(h))
      continue;
    const uint64_t id = c.beginFill(key, h, 0, 0);
    c.fillString(key, h, id, value, kNever);
  }
  uint64_t bytes = 0;
  for (auto& c : cs)
    bytes += c->bytes();
  return {static_cast<double>(hits) / static_cast<double>(reads), bytes};
}

// One cache behind 64 mutex-guarded stripes, as a cache shared by the workers would be.
class Striped {
public:
  explicit Striped(uint64_t budget) {
    for (auto& s : stripes_)
      s.cache = std::make_unique<NearCache>(budget / 64, nullptr);
  }
  size_t get(const std::string& key, uint64_t h, std::string* out) {
    Stripe& s = stripes_[h & 63];
    std::lock_guard<std::mutex> lock(s.mu);
    const NearCache::Entry* e = s.cache->lookup(key, h, 0);
    if (!e)
      return 0;
    out->assign(e->value);
    return 1;
  }
  void put(const std::string& key, uint64_t h, const std::string& v) {
    Stripe& s = stripes_[h & 63];
    std::lock_guard<std::mutex> lock(s.mu);
    s.cache->fillString(key, h, s.cache->beginFill(key, h, 0, 0), v, kNever);
  }

private:
  struct Stripe {
    alignas(64) std::mutex mu;
    std::unique_ptr<NearCache> cache;
  };
  Stripe stripes_[64];
};

double nsPerHit(bool shared, int threads, size_t per_thread) {
  const std::string value(64, 'v');
  std::vector<std::string> keys;
  std::vector<uint64_t> hashes;
  for (int i = 0; i < 1000; ++i) {
    keys.push_back(keyName(i));
    hashes.push_back(keyHash(keys.back()));
  }
  Striped striped(64 << 20);
  std::vector<std::unique_ptr<NearCache>> own;
  for (int t = 0; t < threads; ++t) {
    own.push_back(std::make_unique<NearCache>(64 << 20, nullptr));
    for (size_t i = 0; i < keys.size(); ++i)
      own.back()->fillString(keys[i], hashes[i], own.back()->beginFill(keys[i], hashes[i], 0, 0),
                             value, kNever);
  }
  for (size_t i = 0; i < keys.size(); ++i)
    striped.put(keys[i], hashes[i], value);
  std::atomic<uint64_t> found{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::string out;
      uint64_t n = 0;
      std::mt19937 rng(static_cast<unsigned>(t));
      for (size_t i = 0; i < per_thread; ++i) {
        const size_t k = rng() % keys.size();
        if (shared) {
          n += striped.get(keys[k], hashes[k], &out);
        } else {
          const NearCache::Entry* e = own[static_cast<size_t>(t)]->lookup(keys[k], hashes[k], 0);
          if (e) {
            out.assign(e->value);
            ++n;
          }
        }
      }
      found += n;
    });
  }
  for (auto& th : ts)
    th.join();
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  if (found != per_thread * static_cast<size_t>(threads))
    fprintf(stderr, "unexpected misses\n");
  return ns / static_cast<double>(per_thread);  // wall time per hit per thread
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000000;
  const int keys = 100000;
  std::vector<double> cdf(keys);
  double sum = 0, acc = 0;
  for (int i = 0; i < keys; ++i)
    sum += 1.0 / std::pow(i + 1, 0.99);
  for (int i = 0; i < keys; ++i)
    cdf[static_cast<size_t>(i)] = (acc += 1.0 / std::pow(i + 1, 0.99) / sum);
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<int> ops(n);
  std::vector<bool> writes(n);
  for (size_t i = 0; i < n; ++i) {
    ops[i] = std::min(
        keys - 1, static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin()));
    writes[i] = u(rng) < 0.05;
  }
  printf("## Hit ratio: zipf s=0.99 over %d keys, %zu operations (5%% writes), 64-byte values\n\n",
         keys, n);
  printf("| budget | layout | admission | hit ratio | bytes held | hit %% per MiB held |\n");
  printf("|---:|---|---|---:|---:|---:|\n");
  for (uint64_t mib : {1, 4, 16}) {
    for (size_t caches : {1, 2}) {
      for (bool second : {false, true}) {
        const SimResult r = simulate(caches, mib << 20, second, ops, writes, 64);
        printf("| %llu MiB | %s | %s | %.4f | %llu | %.2f |\n",
               static_cast<unsigned long long>(mib), caches == 1 ? "shared" : "per worker (2)",
               second ? "second_read" : "first_read", r.hit_ratio,
               static_cast<unsigned long long>(r.bytes),
               100.0 * r.hit_ratio / (static_cast<double>(r.bytes) / (1 << 20)));
      }
    }
  }
  printf("\n## Cost of a hit (1,000 hot keys, 64-byte values, lookup + copy of the reply)\n\n");
  printf("| layout | threads | ns per hit per thread |\n|---|---:|---:|\n");
  for (int threads : {1, 2}) {
    printf("| per worker (no lock) | %d | %.1f |\n", threads, nsPerHit(false, threads, 5000000));
    printf("| shared, 64 mutex stripes | %d | %.1f |\n", threads, nsPerHit(true, threads, 5000000));
  }
  NearCache c(1ull << 30, nullptr);
  for (int i = 0; i < 100000; ++i) {
    const std::string k = keyName(i);
    c.fillString(k, keyHash(k), c.beginFill(k, keyHash(k), 0, 0), std::string(64, 'v'), kNever);
  }
  printf("\n## Memory per entry\n\n%zu entries, 20-byte keys, 64-byte values: %.1f bytes per "
         "entry (%zu of them record and index overhead besides key and value)\n",
         c.entries(), static_cast<double>(c.bytes()) / static_cast<double>(c.entries()),
         NearCache::kEntryOverhead);
  return 0;
}

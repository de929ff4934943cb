// Cost of NamespaceIndex::resolve() on realistic keys: against the 8 platform namespaces and
// against 500 namespaces, next to a plain scan over every pattern for scale. Also proves that
// resolution allocates nothing: this binary replaces the global operator new with a counting one
// and fails if the timed loops allocate. Build with release options; run without arguments
// (optional argument: iterations over the key set, default 2000).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "policy/key_pattern.h"
#include "policy/namespace_index.h"

namespace {

std::atomic<uint64_t> g_allocations{0};

void* countedAlloc(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1))
    return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) {
  return countedAlloc(size);
}
void* operator new[](std::size_t size) {
  return countedAlloc(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size ? size : 1);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size ? size : 1);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace {

using kw::KeyPattern;
using kw::NamespaceDef;
using kw::NamespaceIndex;
using kw::Resolution;

using Clock = std::chrono::steady_clock;

KeyPattern mustParse(const std::string& text) {
  std::string error;
  std::optional<KeyPattern> p = KeyPattern::parse(text, &error);
  if (!p) {
    std::fprintf(stderr, "bad pattern %s: %s\n", text.c_str(), error.c_str());
    std::exit(2);
  }
  return *p;
}

std::string uuid(std::mt19937_64& rng) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 36; ++i) {
    out.push_back(i == 8 || i == 13 || i == 18 || i == 23 ? '-' : kHex[rng() % 16]);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> platformSpecs() {
  return {{"session", "session:{user_id:uuid}:{session_id}"},
          {"profile", "profile:{user_id:uuid}"},
          {"blacklist_access", "blacklist:access:{jti}"},
          {"blacklist_refresh", "blacklist:refresh:{jti}"},
          {"doc_processing", "doc:processing:{document_id:uuid}"},
          {"rate_limit", "rl:{identifier}"},
          {"user_by_id", "user:id:{user_id}"},
          {"user_by_email", "user:email:{email}"}};
}

// The platform's 8 plus 492 generated ones of assorted shapes, 8 of them prefix-less.
std::vector<std::pair<std::string, std::string>> largeSpecs() {
  auto specs = platformSpecs();
  const char* services[] = {"billing", "orders", "catalog", "search",
                            "auth",    "media",  "notify",  "audit"};
  for (int i = 0; specs.size() < 500; ++i) {
    const std::string svc = std::string(services[i % 8]) + std::to_string(i / 40);
    std::string pattern;
    switch (i % 10) {
    case 0:
      pattern = svc + ":user:{id:int}";
      break;
    case 1:
      pattern = svc + ":session:{sid:uuid}:{field}";
      break;
    case 2:
      pattern = svc + ":cache:{key...}";
      break;
    case 3:
      pattern = svc + ":lock:{resource}";
      break;
    case 4:
      pattern = svc + ":queue:{name}:{seq:int}";
      break;
    case 5:
      pattern = svc + ":obj:{id:uuid}";
      break;
    case 6:
      pattern = svc + ":cfg";
      break;
    case 7:
      pattern = svc + ":counter:{day}:{metric}";
      break;
    case 8:
      pattern = "idx:" + svc + ":{term}";
      break;
    case 9:
      pattern = i < 90 ? "{tenant}:" + svc + ":{key...}" : svc + ":tmp:{token}";
      break;
    }
    specs.emplace_back("ns" + std::to_string(i), pattern);
  }
  return specs;
}

NamespaceIndex buildIndex(const std::vector<std::pair<std::string, std::string>>& specs) {
  std::vector<NamespaceDef> defs;
  for (const auto& [name, text] : specs)
    defs.push_back({name, mustParse(text)});
  std::string error;
  std::optional<NamespaceIndex> index = NamespaceIndex::build(std::move(defs), &error);
  if (!index) {
    std::fprintf(stderr, "index: %s\n", error.c_str());
    std::exit(2);
  }
  return std::move(*index);
}

// Keys an application would send: mostly in-shape, some malformed, some outside everything.
std::vector<std::string> platformKeys(std::mt19937_64& rng, size_t count) {
  std::vector<std::string> keys;
  while (keys.size() < count) {
    switch (rng() % 12) {
    case 0:
      keys.push_back("session:" + uuid(rng) + ":" + std::to_string(rng() % 100000));
      break;
    case 1:
      keys.push_back("profile:" + uuid(rng));
      break;
    case 2:
      keys.push_back("blacklist:access:eyJhbGciOiJIUzI1NiJ9." + std::to_string(rng()));
      break;
    case 3:
      keys.push_back("blacklist:refresh:" + std::to_string(rng()));
      break;
    case 4:
      keys.push_back("doc:processing:" + uuid(rng));
      break;
    case 5:
      keys.push_back("rl:203.0.113." + std::to_string(rng() % 256));
      break;
    case 6:
      keys.push_back("user:id:" + std::to_string(rng() % 1000000));
      break;
    case 7:
      keys.push_back("user:email:user" + std::to_string(rng() % 1000) + "@example.com");
      break;
    case 8:
      keys.push_back("session:" + std::to_string(rng()));
      break;  // wrong shape
    case 9:
      keys.push_back("profile:" + uuid(rng) + ":extra");
      break;  // wrong shape
    case 10:
      keys.push_back("unrelated:key:" + std::to_string(rng()));
      break;
    case 11:
      keys.push_back("foo");
      break;
    }
  }
  return keys;
}

std::vector<std::string> largeKeys(std::mt19937_64& rng, size_t count,
                                   const std::vector<std::pair<std::string, std::string>>& specs) {
  std::vector<std::string> keys = platformKeys(rng, count / 4);
  while (keys.size() < count) {
    // Fill a random generated pattern's placeholders; one key in 8 is then damaged.
    const std::string& text = specs[8 + rng() % (specs.size() - 8)].second;
    std::string key;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '{') {
        key.push_back(text[i]);
        continue;
      }
      const size_t close = text.find('}', i);
      const std::string body = text.substr(i + 1, close - i - 1);
      if (body.ends_with(":uuid")) {
        key += uuid(rng);
      } else if (body.ends_with(":int")) {
        key += std::to_string(rng() % 100000);
      } else if (body.ends_with("...")) {
        key.append("v").append(std::to_string(rng() % 1000)).append(":part");
      } else {
        key.append("t").append(std::to_string(rng() % 1000));
      }
      i = close;
    }
    if (rng() % 8 == 0)
      key[rng() % key.size()] = ':';
    keys.push_back(key);
  }
  return keys;
}

volatile uint64_t g_sink;

// Nanoseconds per resolution of `keys` (repeated `rounds` times) via `resolve`.
template <typename Fn>
double timeResolve(const std::vector<std::string>& keys, int rounds, Fn&& resolve) {
  uint64_t acc = 0;
  for (const std::string& k : keys)
    acc += resolve(k).ns;  // warm-up
  const auto start = Clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (const std::string& k : keys) {
      const Resolution res = resolve(k);
      acc += res.ns + res.shape_ok;
    }
  }
  const auto elapsed = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  g_sink = acc;
  return elapsed / (double(rounds) * double(keys.size()));
}

// Every pattern tried in turn, the rules applied directly: the cost the index avoids.
Resolution linearResolve(const NamespaceIndex& index, std::string_view key) {
  Resolution best;
  size_t best_prefix = 0;
  for (uint32_t i = 0; i < index.size(); ++i) {
    const KeyPattern& p = index.at(i).pattern;
    if (p.matches(key)) {
      if (!best.shape_ok || p.specificity() > index.at(best.ns).pattern.specificity()) {
        best = {i, true};
      }
    } else if (!best.shape_ok && !p.literalPrefix().empty() && key.starts_with(p.literalPrefix()) &&
               (p.literalPrefix().size() > best_prefix ||
                (p.literalPrefix().size() == best_prefix &&
                 p.specificity() > index.at(best.ns).pattern.specificity()))) {
      best = {i, false};
      best_prefix = p.literalPrefix().size();
    }
  }
  return best;
}

bool runCase(const char* label, const NamespaceIndex& index, const std::vector<std::string>& keys,
             int rounds) {
  size_t in_shape = 0, refused = 0, outside = 0, disagree = 0;
  for (const std::string& k : keys) {
    const Resolution r = index.resolve(k);
    const Resolution l = linearResolve(index, k);
    disagree += r.ns != l.ns || r.shape_ok != l.shape_ok;
    (r.found() ? (r.shape_ok ? in_shape : refused) : outside) += 1;
  }
  const uint64_t before = g_allocations.load();
  const double indexed =
      timeResolve(keys, rounds, [&](const std::string& k) { return index.resolve(k); });
  const uint64_t allocations = g_allocations.load() - before;
  const double linear = timeResolve(keys, std::max(1, rounds / 10),
                                    [&](const std::string& k) { return linearResolve(index, k); });
  std::printf("%-22s %4zu namespaces  %zu keys (%zu in shape, %zu refused, %zu outside) x %d\n"
              "  index:  %7.1f ns/resolve   allocations in timed loop: %" PRIu64 "\n"
              "  linear: %7.1f ns/resolve   (every pattern tried; for scale)\n",
              label, index.size(), keys.size(), in_shape, refused, outside, rounds, indexed,
              allocations, linear);
  if (disagree)
    std::printf("  ERROR: %zu keys resolved differently by index and scan\n", disagree);
  return allocations == 0 && disagree == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 2000;
  std::mt19937_64 rng(20240601);
  const auto small_specs = platformSpecs();
  const auto large_specs = largeSpecs();
  const NamespaceIndex small = buildIndex(small_specs);
  const NamespaceIndex large = buildIndex(large_specs);
  const std::vector<std::string> small_keys = platformKeys(rng, 4096);
  const std::vector<std::string> large_keys = largeKeys(rng, 4096, large_specs);
  bool ok = runCase("platform", small, small_keys, rounds);
  ok = runCase("platform + generated", large, large_keys, rounds) && ok;
  std::printf("%s\n", ok ? "OK: zero allocations, index agrees with the scan" : "FAILED");
  return ok ? 0 : 1;
}

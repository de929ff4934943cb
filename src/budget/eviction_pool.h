// Choosing which keys of an over-budget namespace go, the way Redis's approximate LRU does
// (evict.c: sample a few keys, keep the idlest candidates in a small pool across rounds, evict
// the best): the enforcer reads Redis's own access clock for a random sample of the namespace's
// keys (OBJECT IDLETIME, or OBJECT FREQ under an LFU policy), adds the readings here, and takes
// the idlest. Readings age with the clock (an idle key keeps getting idler), and are forgotten
// after max_age_ms: a key read since then may be hot now.
//
// Pure: time is passed in, no I/O. Unit-tested alone (tests/unit/budget_test.cc).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kw {

class EvictionPool {
public:
  struct Candidate {
    std::string key;
    uint64_t bytes = 0;
    double score = 0;  // higher: evicted sooner (idle seconds; or 255 - LFU counter)
    int64_t read_ms = 0;
  };

  // `aging`: scores grow by one per second since they were read (LRU idle time); off for LFU.
  EvictionPool(size_t capacity, int64_t max_age_ms, bool aging)
      : capacity_(capacity), max_age_ms_(max_age_ms), aging_(aging) {}

  void setAging(bool aging) {
    if (aging != aging_)
      candidates_.clear();  // scores of the two clocks do not compare
    aging_ = aging;
  }

  // A reading taken at now_ms; a newer reading of the same key replaces it at the next take().
  void add(std::string_view key, uint64_t bytes, double score, int64_t now_ms);

  // The idlest candidates, best first, until their bytes reach `need` or `max_keys` are taken.
  // `usable(candidate)` may refresh candidate.bytes and says whether the key may still go (it is
  // still in the namespace and was not written since it was read). The rest stay, at most
  // `capacity` of them, for later rounds.
  template <typename Usable>
  std::vector<Candidate> take(uint64_t need, size_t max_keys, int64_t now_ms, Usable&& usable) {
    prepare(now_ms);
    std::vector<Candidate> out;
    uint64_t freed = 0;
    size_t i = 0;
    for (; i < candidates_.size() && freed < need && out.size() < max_keys; ++i) {
      Candidate& c = candidates_[i];
      if (!usable(c))
        continue;
      freed += c.bytes;
      out.push_back(std::move(c));
      c.key.clear();  // taken
    }
    std::vector<Candidate> kept;
    for (size_t j = i; j < candidates_.size() && kept.size() < capacity_; ++j)
      kept.push_back(std::move(candidates_[j]));
    candidates_ = std::move(kept);
    return out;
  }

  size_t size() const { return candidates_.size(); }
  void clear() { candidates_.clear(); }
  void forget(std::string_view key);

private:
  double current(const Candidate& c, int64_t now_ms) const {
    return aging_ ? c.score + static_cast<double>(now_ms - c.read_ms) / 1000.0 : c.score;
  }
  // Drops readings older than max_age_ms and sorts the rest, idlest first.
  void prepare(int64_t now_ms);

  size_t capacity_;
  int64_t max_age_ms_;
  bool aging_;
  std::vector<Candidate> candidates_;
};

}  // namespace kw

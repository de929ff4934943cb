#include "budget/eviction_pool.h"

#include <unordered_map>

namespace kw {

void EvictionPool::add(std::string_view key, uint64_t bytes, double score, int64_t now_ms) {
  candidates_.push_back({std::string(key), bytes, score, now_ms});
}

void EvictionPool::forget(std::string_view key) {
  std::erase_if(candidates_, [key](const Candidate& c) { return c.key == key; });
}

void EvictionPool::prepare(int64_t now_ms) {
  // One reading per key, the newest (readings are appended in time order); none too old.
  std::unordered_map<std::string_view, size_t> newest;
  newest.reserve(candidates_.size());
  for (size_t i = 0; i < candidates_.size(); ++i)
    newest[candidates_[i].key] = i;
  std::vector<bool> keep(candidates_.size());
  for (size_t i = 0; i < candidates_.size(); ++i)
    keep[i] = newest[candidates_[i].key] == i && now_ms - candidates_[i].read_ms <= max_age_ms_;
  newest.clear();  // its keys view the strings about to move
  std::vector<Candidate> fresh;
  for (size_t i = 0; i < candidates_.size(); ++i)
    if (keep[i])
      fresh.push_back(std::move(candidates_[i]));
  candidates_ = std::move(fresh);
  // Stable: among equally idle keys the order of the (random) sample decides.
  std::stable_sort(candidates_.begin(), candidates_.end(),
                   [&](const Candidate& a, const Candidate& b) {
                     return current(a, now_ms) > current(b, now_ms);
                   });
}

}  // namespace kw

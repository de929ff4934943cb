// An open-addressing hash index of records owned elsewhere, by key: linear probing over a power of
// two slots holding record pointers, deletion by backward shift (no tombstones), grown at 3/4
// load. A lookup compares the stored 64-bit hash before the key, so a probe past another key costs
// one pointer load and one compare. Records provide `uint64_t hash` and `std::string_view key()`.
// Single-threaded (one worker's).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include <xxhash.h>

namespace kw {

inline uint64_t keyHash(std::string_view key) {
  return XXH3_64bits(key.data(), key.size());
}

template <typename Record> class KeyIndex {
public:
  Record* find(std::string_view key, uint64_t hash) const {
    if (slots_.empty())
      return nullptr;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Record* r = slots_[i];
      if (!r)
        return nullptr;
      if (r->hash == hash && r->key() == key)
        return r;
    }
  }

  // `r` must not be in the index yet (its key absent).
  void insert(Record* r) {
    if ((size_ + 1) * 4 > slots_.size() * 3)
      grow();
    size_t i = r->hash & mask_;
    while (slots_[i])
      i = (i + 1) & mask_;
    slots_[i] = r;
    ++size_;
  }

  void erase(Record* r) {
    size_t i = r->hash & mask_;
    while (slots_[i] != r)
      i = (i + 1) & mask_;
    // Backward shift: later records of the same probe run move up so lookups never stop early.
    size_t hole = i;
    for (size_t j = (i + 1) & mask_; slots_[j]; j = (j + 1) & mask_) {
      const size_t home = slots_[j]->hash & mask_;
      // Moves when its home is not in (hole, j] (cyclically).
      const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!stays) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = nullptr;
    --size_;
  }

  void clear() {
    std::fill(slots_.begin(), slots_.end(), nullptr);
    size_ = 0;
  }
  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  size_t memoryBytes() const { return slots_.capacity() * sizeof(Record*); }

  template <typename Fn> void forEach(Fn&& fn) const {
    for (Record* r : slots_)
      if (r)
        fn(r);
  }

private:
  void grow() {
    std::vector<Record*> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, nullptr);
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (Record* r : old)
      if (r)
        insert(r);
  }

  std::vector<Record*> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace kw

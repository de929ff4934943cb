// The keys of one budgeted namespace and the bytes Redis counts for each (MEMORY USAGE), kept by
// the lease holder (budget_enforcer.h). Small per key on purpose: 16 bytes of entry, 4 bytes of
// hash slot and 1 of hash tag at a load factor of at most 3/4, and the key itself in its own
// allocation; about 30 bytes per key plus the key in steady state, 48 at most right after the
// tables grow.
//
// Ids are stable while a key is in the index (queues of the enforcer hold them); a removed key's
// id is reused by a later insert. compact() renumbers, and says how.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace kw {

class KeyIndex {
public:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr size_t kMaxKeyLength = (1u << 24) - 1;
  static constexpr uint64_t kMaxBytes = UINT32_MAX;  // larger sizes are counted as this

  // Per-key flags for the enforcer's bookkeeping.
  enum Flag : uint8_t {
    kMeasured = 1,  // bytes() is Redis's figure (else unknown, counted as 0)
    kQueued = 2,    // waiting to be measured (in one of the enforcer's queues)
    kSeen = 4,      // seen since the current scan began (keys not seen by its end are gone)
  };

  KeyIndex() = default;
  KeyIndex(const KeyIndex&) = delete;
  KeyIndex& operator=(const KeyIndex&) = delete;
  KeyIndex(KeyIndex&& other) noexcept;
  KeyIndex& operator=(KeyIndex&& other) noexcept;
  ~KeyIndex();

  // kNone when absent.
  uint32_t find(std::string_view key) const;
  // The key's id; *created tells whether it was new (unmeasured, no flags). kNone only for a key
  // longer than kMaxKeyLength.
  uint32_t insert(std::string_view key, bool* created);
  void remove(uint32_t id);
  void clear();

  std::string_view key(uint32_t id) const {
    return {entries_[id].key, entries_[id].meta & kLenMask};
  }
  uint64_t bytes(uint32_t id) const { return entries_[id].bytes; }
  // Records Redis's figure for the key (and marks it measured).
  void setBytes(uint32_t id, uint64_t bytes);
  bool has(uint32_t id, Flag f) const { return (flags(id) & f) != 0; }
  void set(uint32_t id, Flag f) { entries_[id].meta |= uint32_t{f} << kFlagShift; }
  void unset(uint32_t id, Flag f) { entries_[id].meta &= ~(uint32_t{f} << kFlagShift); }
  // Clears `f` on every key.
  void unsetAll(Flag f);
  bool live(uint32_t id) const { return id < entries_.size() && entries_[id].key != nullptr; }

  size_t size() const { return live_; }
  size_t measuredCount() const { return measured_; }
  uint64_t totalBytes() const { return total_bytes_; }
  // One past the largest id in use (ids are below it).
  uint32_t idLimit() const { return static_cast<uint32_t>(entries_.size()); }

  // A measured key chosen uniformly at random (`random` is any 64-bit random value; a few are
  // drawn from `next`), or kNone after a few misses (holes, unmeasured keys).
  template <typename Next> uint32_t sample(Next&& next) const {
    if (measured_ == 0)
      return kNone;
    for (int tries = 0; tries < 16; ++tries) {
      const uint32_t id = static_cast<uint32_t>(next() % entries_.size());
      if (entries_[id].key != nullptr && has(id, kMeasured))
        return id;
    }
    return kNone;
  }

  // Memory held by the index: entries, slots, free list and the keys' allocations.
  size_t memoryBytes() const;

  // After many removals: packs the ids. Returns old id -> new id (kNone for holes); empty when
  // nothing was worth doing (fewer than a quarter of the ids are holes, or few keys).
  std::vector<uint32_t> compact();

private:
  struct Entry {
    char* key;       // nullptr: a hole (on the free list)
    uint32_t bytes;  // MEMORY USAGE, saturated at kMaxBytes
    uint32_t meta;   // key length (low 24 bits), flags (high 8)
  };
  static_assert(sizeof(Entry) == 16);
  static constexpr uint32_t kLenMask = (1u << 24) - 1;
  static constexpr int kFlagShift = 24;
  static constexpr uint32_t kEmpty = UINT32_MAX;
  static uint8_t tagOf(uint64_t hash) { return static_cast<uint8_t>(hash >> 56); }
  bool holds(size_t slot, uint8_t tag, std::string_view key) const;

  uint8_t flags(uint32_t id) const { return static_cast<uint8_t>(entries_[id].meta >> kFlagShift); }
  static uint64_t hash(std::string_view key);
  size_t slotOf(uint32_t id) const;  // the slot holding id
  void grow();
  void rebuildSlots(size_t capacity);
  void freeKey(Entry& e);

  std::vector<Entry> entries_;
  std::vector<uint32_t> slots_;  // open addressing, linear probing; kEmpty or an id
  // Beside each slot, 8 bits of its key's hash (the top byte): a probe compares keys only when
  // they match, so the probes past other keys cost no memcmp.
  std::vector<uint8_t> tags_;
  std::vector<uint32_t> free_;  // holes in entries_
  size_t live_ = 0;
  size_t measured_ = 0;
  uint64_t total_bytes_ = 0;
  size_t key_alloc_bytes_ = 0;
};

}  // namespace kw

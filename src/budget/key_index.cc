#include "budget/key_index.h"

#include <malloc.h>
#include <xxhash.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace kw {

KeyIndex::KeyIndex(KeyIndex&& other) noexcept {
  *this = std::move(other);
}

KeyIndex& KeyIndex::operator=(KeyIndex&& other) noexcept {
  if (this != &other) {
    clear();
    entries_ = std::move(other.entries_);
    slots_ = std::move(other.slots_);
    tags_ = std::move(other.tags_);
    free_ = std::move(other.free_);
    live_ = std::exchange(other.live_, 0);
    measured_ = std::exchange(other.measured_, 0);
    total_bytes_ = std::exchange(other.total_bytes_, 0);
    key_alloc_bytes_ = std::exchange(other.key_alloc_bytes_, 0);
    other.entries_.clear();
    other.slots_.clear();
    other.tags_.clear();
    other.free_.clear();
  }
  return *this;
}

KeyIndex::~KeyIndex() {
  clear();
}

uint64_t KeyIndex::hash(std::string_view key) {
  return XXH3_64bits(key.data(), key.size());
}

bool KeyIndex::holds(size_t slot, uint8_t tag, std::string_view key) const {
  if (tags_[slot] != tag)
    return false;  // (most probes of another key end here, without a key comparison)
  const Entry& e = entries_[slots_[slot]];
  return (e.meta & kLenMask) == key.size() && std::memcmp(e.key, key.data(), key.size()) == 0;
}

uint32_t KeyIndex::find(std::string_view key) const {
  if (slots_.empty())
    return kNone;
  const size_t mask = slots_.size() - 1;
  const uint64_t h = hash(key);
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    if (slots_[i] == kEmpty)
      return kNone;
    if (holds(i, tagOf(h), key))
      return slots_[i];
  }
}

uint32_t KeyIndex::insert(std::string_view key, bool* created) {
  *created = false;
  if (key.size() > kMaxKeyLength)
    return kNone;
  if ((live_ + 1) * 4 > slots_.size() * 3)
    grow();
  const size_t mask = slots_.size() - 1;
  const uint64_t h = hash(key);
  size_t i = h & mask;
  for (;; i = (i + 1) & mask) {
    if (slots_[i] == kEmpty)
      break;
    if (holds(i, tagOf(h), key))
      return slots_[i];
  }
  char* copy = static_cast<char*>(std::malloc(key.empty() ? 1 : key.size()));
  if (copy == nullptr)
    return kNone;
  if (!key.empty())
    std::memcpy(copy, key.data(), key.size());
  key_alloc_bytes_ += malloc_usable_size(copy);
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<uint32_t>(entries_.size());
    entries_.push_back({});
  }
  entries_[id] = {copy, 0, static_cast<uint32_t>(key.size())};
  slots_[i] = id;
  tags_[i] = tagOf(h);
  ++live_;
  *created = true;
  return id;
}

void KeyIndex::setBytes(uint32_t id, uint64_t bytes) {
  Entry& e = entries_[id];
  const uint32_t clamped = static_cast<uint32_t>(bytes > kMaxBytes ? kMaxBytes : bytes);
  total_bytes_ -= e.bytes;
  total_bytes_ += clamped;
  e.bytes = clamped;
  if (!has(id, kMeasured)) {
    set(id, kMeasured);
    ++measured_;
  }
}

void KeyIndex::unsetAll(Flag f) {
  for (Entry& e : entries_)
    e.meta &= ~(uint32_t{f} << kFlagShift);
}

size_t KeyIndex::slotOf(uint32_t id) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash(key(id)) & mask;; i = (i + 1) & mask)
    if (slots_[i] == id)
      return i;
}

void KeyIndex::freeKey(Entry& e) {
  key_alloc_bytes_ -= malloc_usable_size(e.key);
  std::free(e.key);
  e.key = nullptr;
}

void KeyIndex::remove(uint32_t id) {
  if (!live(id))
    return;
  // Backward-shift deletion keeps every probe sequence unbroken without tombstones.
  const size_t mask = slots_.size() - 1;
  size_t hole = slotOf(id);
  for (size_t j = (hole + 1) & mask; slots_[j] != kEmpty; j = (j + 1) & mask) {
    const size_t home = hash(key(slots_[j])) & mask;
    const bool movable = j > hole ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      slots_[hole] = slots_[j];
      tags_[hole] = tags_[j];
      hole = j;
    }
  }
  slots_[hole] = kEmpty;
  Entry& e = entries_[id];
  total_bytes_ -= e.bytes;
  if (has(id, kMeasured))
    --measured_;
  freeKey(e);
  e.bytes = 0;
  e.meta = 0;
  free_.push_back(id);
  --live_;
}

void KeyIndex::clear() {
  for (Entry& e : entries_)
    if (e.key != nullptr)
      freeKey(e);
  entries_.clear();
  entries_.shrink_to_fit();
  slots_.clear();
  slots_.shrink_to_fit();
  tags_.clear();
  tags_.shrink_to_fit();
  free_.clear();
  free_.shrink_to_fit();
  live_ = measured_ = 0;
  total_bytes_ = 0;
}

void KeyIndex::grow() {
  rebuildSlots(slots_.empty() ? 16 : slots_.size() * 2);
}

void KeyIndex::rebuildSlots(size_t capacity) {
  slots_.assign(capacity, kEmpty);
  tags_.assign(capacity, 0);
  const size_t mask = capacity - 1;
  for (uint32_t id = 0; id < entries_.size(); ++id) {
    if (entries_[id].key == nullptr)
      continue;
    const uint64_t h = hash(key(id));
    size_t i = h & mask;
    while (slots_[i] != kEmpty)
      i = (i + 1) & mask;
    slots_[i] = id;
    tags_[i] = tagOf(h);
  }
}

size_t KeyIndex::memoryBytes() const {
  return entries_.capacity() * sizeof(Entry) + slots_.capacity() * sizeof(uint32_t) +
         tags_.capacity() + free_.capacity() * sizeof(uint32_t) + key_alloc_bytes_;
}

std::vector<uint32_t> KeyIndex::compact() {
  if (entries_.size() < 1024 || free_.size() * 4 < entries_.size())
    return {};
  std::vector<uint32_t> map(entries_.size(), kNone);
  std::vector<Entry> packed;
  packed.reserve(live_);
  for (uint32_t id = 0; id < entries_.size(); ++id) {
    if (entries_[id].key == nullptr)
      continue;
    map[id] = static_cast<uint32_t>(packed.size());
    packed.push_back(entries_[id]);
  }
  entries_ = std::move(packed);
  free_.clear();
  free_.shrink_to_fit();
  size_t capacity = 16;
  while (capacity * 3 < (live_ + 1) * 4)
    capacity *= 2;
  rebuildSlots(capacity);
  slots_.shrink_to_fit();
  tags_.shrink_to_fit();
  return map;
}

}  // namespace kw

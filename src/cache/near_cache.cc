#include "cache/near_cache.h"

#include <algorithm>
#include <limits>

namespace kw {
namespace {

constexpr int64_t kNoExpiry = std::numeric_limits<int64_t>::max();

// Heap bytes behind a string (nothing while it fits in the object itself).
size_t heapBytes(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

void encodeBulk(std::string* out, std::string_view v) {
  const std::string len = std::to_string(v.size());
  out->clear();
  out->reserve(1 + len.size() + 2 + v.size() + 2);  // exactly: the entry is charged its capacity
  out->push_back('$');
  out->append(len);
  out->append("\r\n");
  out->append(v);
  out->append("\r\n");
}

}  // namespace

NearCache::NearCache(uint64_t max_bytes, CacheStatsShard* stats)
    : max_bytes_(max_bytes), stats_(stats) {}

NearCache::~NearCache() {
  clear();
}

NsCacheCounters* NearCache::counters(uint32_t slot) {
  if (!stats_ || slot >= stats_->ns.size())
    return &sink_;
  return &stats_->ns[slot];
}

void NearCache::setMaxBytes(uint64_t max_bytes) {
  max_bytes_ = max_bytes;
  evict();
}

void NearCache::linkFront(Entry* e) {
  e->lru_tick = ++tick_;
  e->prev = nullptr;
  e->next = head_;
  if (head_)
    head_->prev = e;
  head_ = e;
  if (!tail_)
    tail_ = e;
}

void NearCache::unlink(Entry* e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    head_ = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    tail_ = e->prev;
  e->prev = e->next = nullptr;
}

void NearCache::recharge(Entry* e) {
  size_t b = kEntryOverhead + heapBytes(e->key_) + heapBytes(e->value);
  if (e->hash_value) {
    b += sizeof(HashValue) + e->hash_value->fields.capacity() * sizeof(e->hash_value->fields[0]);
    for (const auto& [f, v] : e->hash_value->fields)
      b += heapBytes(f) + (v ? heapBytes(*v) : 0);
  }
  NsCacheCounters* c = counters(e->slot);
  c->bytes.add(static_cast<int64_t>(b) - static_cast<int64_t>(e->charged));
  bytes_ = bytes_ + b - e->charged;
  e->charged = static_cast<uint32_t>(std::min<size_t>(b, UINT32_MAX));
}

void NearCache::remove(Entry* e) {
  NsCacheCounters* c = counters(e->slot);
  c->bytes.add(-static_cast<int64_t>(e->charged));
  c->entries.add(-1);
  bytes_ -= e->charged;
  unlink(e);
  index_.erase(e);
  delete e;
}

void NearCache::evict() {
  while (bytes_ > max_bytes_ && tail_) {
    Entry* victim = tail_;
    if (victim->state == State::kValue)
      counters(victim->slot)->evictions.add();
    remove(victim);
  }
}

const NearCache::Entry* NearCache::lookup(std::string_view key, uint64_t hash, int64_t now_ms) {
  Entry* e = index_.find(key, hash);
  if (!e || e->state != State::kValue)
    return nullptr;
  if (now_ms >= e->until_ms) {
    counters(e->slot)->expired.add();
    remove(e);
    return nullptr;
  }
  // An approximate LRU, as Redis's: an entry moved to the head since the last eighth of the
  // entries were is near the head already and stays where it is, so a hot key costs no pointer
  // writes on most hits.
  if (e != head_ && tick_ - e->lru_tick > index_.size() / 8) {
    unlink(e);
    linkFront(e);
  }
  return e;
}

uint64_t NearCache::beginFill(std::string_view key, uint64_t hash, uint32_t slot, int64_t now_ms) {
  if (Entry* e = index_.find(key, hash)) {
    if (e->state == State::kBlocked) {
      if (now_ms < e->until_ms)
        return 0;
      e->state = State::kFilling;  // the block is over: a fresh marker
      e->id = next_id_++;
      return e->id;
    }
    if (e->state == State::kValue && now_ms >= e->until_ms) {
      counters(e->slot)->expired.add();
      remove(e);
    } else {
      // A marker (another read of the key in flight) or a value being completed (a hash field
      // more): the record's existence proves no invalidation since it was made, for both reads.
      return e->id;
    }
  }
  auto* e = new Entry();
  e->hash = hash;
  e->id = next_id_++;
  e->slot = slot;
  e->state = State::kFilling;
  e->key_.assign(key);
  index_.insert(e);
  linkFront(e);
  counters(slot)->entries.add(1);
  recharge(e);
  const uint64_t id = e->id;
  evict();  // (a budget smaller than one record drops the marker at once: the fill is not stored)
  return id;
}

NearCache::Entry* NearCache::record(std::string_view key, uint64_t hash, uint64_t id) {
  if (id == 0)
    return nullptr;
  Entry* e = index_.find(key, hash);
  if (!e || e->id != id || e->state == State::kBlocked)
    return nullptr;  // invalidated (or evicted, or blocked) since the read was sent
  return e;
}

void NearCache::makeValue(Entry* e, Kind kind, int64_t expire_ms) {
  const bool was_value = e->state == State::kValue;
  e->state = State::kValue;
  e->kind = kind;
  e->until_ms = was_value ? std::min(e->until_ms, expire_ms) : expire_ms;
  if (kind != Kind::kHash)
    e->hash_value.reset();
  if (kind != Kind::kString) {
    e->value.clear();
    e->value.shrink_to_fit();
  }
  counters(e->slot)->fills.add();
  recharge(e);
  if (e != head_) {
    unlink(e);
    linkFront(e);
  }
  evict();
}

bool NearCache::fillString(std::string_view key, uint64_t hash, uint64_t id, std::string_view value,
                           int64_t expire_ms) {
  Entry* e = record(key, hash, id);
  if (!e)
    return false;
  if (e->state == State::kValue && e->kind == Kind::kString)
    return true;  // another read of the same version stored it already
  encodeBulk(&e->value, value);
  makeValue(e, Kind::kString, expire_ms);
  return true;
}

bool NearCache::fillAbsent(std::string_view key, uint64_t hash, uint64_t id, int64_t expire_ms) {
  Entry* e = record(key, hash, id);
  if (!e)
    return false;
  makeValue(e, Kind::kAbsent, expire_ms);
  return true;
}

bool NearCache::fillExists(std::string_view key, uint64_t hash, uint64_t id, int64_t expire_ms) {
  Entry* e = record(key, hash, id);
  if (!e)
    return false;
  if (e->state == State::kValue && e->kind != Kind::kAbsent)
    return true;  // it knows more already (a value, or hash fields)
  makeValue(e, Kind::kExists, expire_ms);
  return true;
}

bool NearCache::fillHashFields(std::string_view key, uint64_t hash, uint64_t id,
                               std::span<const std::string_view> fields,
                               std::span<const std::optional<std::string_view>> values,
                               int64_t expire_ms) {
  Entry* e = record(key, hash, id);
  if (!e || fields.size() != values.size())
    return false;
  if (e->state == State::kValue && e->kind != Kind::kHash && e->kind != Kind::kExists) {
    // A string or an absent key answered HGET: a type error or a nil that the entry explains.
    return false;
  }
  if (!e->hash_value)
    e->hash_value = std::make_unique<HashValue>();
  HashValue& hv = *e->hash_value;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (hv.find(fields[i]))
      continue;
    if (hv.complete && !values[i])
      continue;  // a complete hash already answers "absent"
    hv.fields.emplace_back(std::string(fields[i]),
                           values[i] ? std::optional<std::string>(std::string(*values[i]))
                                     : std::nullopt);
  }
  makeValue(e, Kind::kHash, expire_ms);
  return true;
}

bool NearCache::fillHashAll(std::string_view key, uint64_t hash, uint64_t id,
                            std::span<const std::string_view> pairs, int64_t expire_ms) {
  Entry* e = record(key, hash, id);
  if (!e || pairs.size() % 2 != 0)
    return false;
  if (pairs.empty()) {
    // Redis deletes an empty hash: the key does not exist.
    makeValue(e, Kind::kAbsent, expire_ms);
    return true;
  }
  auto hv = std::make_unique<HashValue>();
  hv->complete = true;
  hv->fields.reserve(pairs.size() / 2);
  for (size_t i = 0; i + 1 < pairs.size(); i += 2)
    hv->fields.emplace_back(std::string(pairs[i]), std::string(pairs[i + 1]));
  e->hash_value = std::move(hv);
  makeValue(e, Kind::kHash, expire_ms);
  return true;
}

bool NearCache::invalidate(std::string_view key, uint64_t hash) {
  Entry* e = index_.find(key, hash);
  if (!e || e->state == State::kBlocked)
    return false;
  counters(e->slot)->invalidations.add();
  remove(e);
  return true;
}

void NearCache::block(std::string_view key, uint64_t hash, uint32_t slot, int64_t until_ms) {
  Entry* e = index_.find(key, hash);
  if (e && e->state != State::kBlocked) {
    counters(e->slot)->invalidations.add();
    remove(e);
    e = nullptr;
  }
  if (e) {
    e->until_ms = std::max(e->until_ms, until_ms);
    return;
  }
  e = new Entry();
  e->hash = hash;
  e->id = next_id_++;
  e->slot = slot;
  e->state = State::kBlocked;
  e->until_ms = until_ms;
  e->key_.assign(key);
  index_.insert(e);
  linkFront(e);
  counters(slot)->entries.add(1);
  recharge(e);
  evict();
}

void NearCache::clear() {
  while (head_)
    remove(head_);
  index_.clear();
}

void NearCache::clearSlot(uint32_t slot) {
  for (Entry* e = head_; e;) {
    Entry* next = e->next;
    if (e->slot == slot)
      remove(e);
    e = next;
  }
}

}  // namespace kw

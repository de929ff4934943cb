// The near cache's fills: the PTTL of each key read, the reply, and what gets stored; and the
// records of requests the stage forwarded (cache_stage.h).
#include <algorithm>
#include <limits>

#include "cache/cache_stage.h"
#include "cache/resp_values.h"

namespace kw {
namespace {

constexpr int64_t kNoExpiry = std::numeric_limits<int64_t>::max();

}  // namespace

void CacheStage::onPttl(uint64_t tag, size_t key_index, std::string_view reply) {
  Pending* p = pending(tag);
  if (!p || key_index >= p->nkeys)
    return;
  FillKey& k = p->keys[key_index];
  k.pttl_in = true;
  k.pttl_ok = parseInteger(reply, &k.pttl);
  if (p->pttl_outstanding > 0)
    --p->pttl_outstanding;
  if (p->pttl_outstanding == 0 && p->have_reply)
    completeFill(p, p->reply);
}

void CacheStage::completeFill(Pending* p, std::string_view reply) {
  NsCacheCounters* c = env_.stats ? &env_.stats->ns[p->slot] : nullptr;
  // A fill refused by the cache: its key was invalidated (or evicted, or blocked) in flight.
  auto stored = [c](bool ok) {
    if (!ok && c)
      c->fills_dropped.add();
  };
  const int64_t cap = p->max_ttl_ms > 0 ? p->sent_ms + p->max_ttl_ms : kNoExpiry;
  // The expiry of key i, or false when the reply and its PTTL disagree (the key changed between
  // them: its invalidation is on its way) or PTTL failed.
  auto expiry = [&](const FillKey& k, bool exists, int64_t* out) {
    if (!k.pttl_ok || (k.pttl == -2) == exists)
      return false;
    // The early bound: PTTL counted down from when it was sent at the latest.
    *out = std::min(cap, k.pttl >= 0 ? p->sent_ms + k.pttl : kNoExpiry);
    return true;
  };
  int64_t exp = 0;
  switch (p->op) {
  case Op::kGet: {
    std::optional<std::string_view> v;
    const FillKey& k = p->keys[0];
    if (k.id == 0 || !parseBulkOrNil(reply, &v) || !expiry(k, v.has_value(), &exp))
      break;
    if (v)
      stored(cache_.fillString(k.key, k.hash, k.id, *v, exp));
    else
      stored(cache_.fillAbsent(k.key, k.hash, k.id, exp));
    break;
  }
  case Op::kExists: {
    int64_t n = 0;
    const FillKey& k = p->keys[0];
    if (k.id == 0 || !parseInteger(reply, &n) || (n != 0 && n != 1) || !expiry(k, n == 1, &exp))
      break;
    if (n == 1)
      stored(cache_.fillExists(k.key, k.hash, k.id, exp));
    else
      stored(cache_.fillAbsent(k.key, k.hash, k.id, exp));
    break;
  }
  case Op::kMget: {
    if (!parseBulkArray(reply, false, &values_) || values_.size() != p->nkeys)
      break;
    for (size_t i = 0; i < p->nkeys; ++i) {
      const FillKey& k = p->keys[i];
      // A nil may be a key of another type: stored only if PTTL says the key does not exist.
      if (k.id == 0 || !expiry(k, values_[i].has_value(), &exp))
        continue;
      if (values_[i])
        stored(cache_.fillString(k.key, k.hash, k.id, *values_[i], exp));
      else
        stored(cache_.fillAbsent(k.key, k.hash, k.id, exp));
    }
    break;
  }
  case Op::kHget:
  case Op::kHmget: {
    const FillKey& k = p->keys[0];
    if (k.id == 0 || !k.pttl_ok)
      break;
    values_.clear();
    if (p->op == Op::kHget) {
      std::optional<std::string_view> v;
      if (!parseBulkOrNil(reply, &v))
        break;
      values_.push_back(v);
    } else if (!parseBulkArray(reply, false, &values_) || values_.size() != p->nfields) {
      break;
    }
    const bool any_field =
        std::any_of(values_.begin(), values_.end(), [](const auto& v) { return v.has_value(); });
    if (k.pttl == -2) {
      if (any_field)
        break;
      stored(cache_.fillAbsent(k.key, k.hash, k.id, kNoExpiry));
      break;
    }
    exp = std::min(cap, k.pttl >= 0 ? p->sent_ms + k.pttl : kNoExpiry);
    views_.assign(p->fields.begin(), p->fields.begin() + static_cast<long>(p->nfields));
    stored(cache_.fillHashFields(k.key, k.hash, k.id, views_, values_, exp));
    break;
  }
  case Op::kHgetall: {
    const FillKey& k = p->keys[0];
    if (k.id == 0 || !parseBulkArray(reply, true, &values_) || values_.size() % 2 != 0)
      break;
    if (!expiry(k, !values_.empty(), &exp))
      break;
    views_.clear();
    for (const auto& v : values_) {
      if (!v) {
        views_.clear();
        return release(p);  // a nil inside HGETALL: not a hash reply
      }
      views_.push_back(*v);
    }
    stored(cache_.fillHashAll(k.key, k.hash, k.id, views_, exp));
    break;
  }
  case Op::kNone:
    break;
  }
  release(p);
}

// ---- pending requests ----

uint64_t CacheStage::newPending(Pending::Kind kind) {
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<uint32_t>(pending_.size());
    pending_.emplace_back();
  }
  Pending& p = pending_[index];
  p.kind = kind;
  p.used = true;
  p.have_reply = false;
  p.flush_all = false;
  p.fail_open = false;
  p.pttl_outstanding = 0;
  p.nkeys = 0;
  p.nfields = 0;
  p.reply.clear();
  if (++next_gen_ == 0)
    next_gen_ = 1;
  p.gen = next_gen_;
  return (uint64_t{p.gen} << 32) | index;
}

CacheStage::Pending* CacheStage::pending(uint64_t tag) {
  const auto index = static_cast<uint32_t>(tag);
  const auto gen = static_cast<uint32_t>(tag >> 32);
  if (index >= pending_.size())
    return nullptr;
  Pending& p = pending_[index];
  return p.used && p.gen == gen ? &p : nullptr;
}

void CacheStage::release(Pending* p) {
  p->used = false;
  p->gen = 0;
  if (p->reply.capacity() > 16384)
    std::string().swap(p->reply);
  free_.push_back(static_cast<uint32_t>(p - pending_.data()));
}

}  // namespace kw

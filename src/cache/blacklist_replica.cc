#include "cache/blacklist_replica.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace kw {

BlacklistReplica::BlacklistReplica(std::string prefix, NsCacheCounters* counters)
    : prefix_(std::move(prefix)), counters_(counters) {}

BlacklistReplica::~BlacklistReplica() {
  clear();
  account();
}

void BlacklistReplica::account() {
  if (!counters_)
    return;
  const auto e = static_cast<int64_t>(index_.size());
  const auto b = index_.size() == 0 && bytes_ == 0 ? 0 : static_cast<int64_t>(bytes());
  counters_->bl_entries.add(e - shown_entries_);
  counters_->bl_bytes.add(b - shown_bytes_);
  shown_entries_ = e;
  shown_bytes_ = b;
}

BlacklistReplica::Answer BlacklistReplica::lookup(std::string_view key, int64_t now_ms,
                                                  std::optional<std::string_view>* value) {
  if (!complete_ || key.size() < prefix_.size() || key.substr(0, prefix_.size()) != prefix_)
    return Answer::kUnknown;
  const std::string_view id = suffix(key);
  if (!pending_.empty() && pending_.find(id) != pending_.end())
    return Answer::kUnknown;
  Record* r = index_.find(id, keyHash(id));
  if (!r)
    return Answer::kAbsent;
  if (now_ms >= r->expire_ms) {
    erase(r);
    account();
    return Answer::kAbsent;
  }
  if (r->val_len == kNotString)
    *value = std::nullopt;
  else
    *value = std::string_view(r->data + r->key_len, r->val_len);
  return Answer::kPresent;
}

uint64_t BlacklistReplica::beginFetch(std::string_view key) {
  const uint64_t gen = next_gen_++;
  auto it = pending_.find(suffix(key));
  if (it == pending_.end())
    pending_.emplace(std::string(suffix(key)), gen);
  else
    it->second = gen;
  return gen;
}

bool BlacklistReplica::fetchPending(std::string_view key, uint64_t gen) const {
  auto it = pending_.find(suffix(key));
  return it != pending_.end() && it->second == gen;
}

void BlacklistReplica::completeFetch(std::string_view key, uint64_t gen, bool present,
                                     bool is_string, std::string_view value, int64_t expire_ms) {
  auto it = pending_.find(suffix(key));
  if (it == pending_.end() || it->second != gen)
    return;  // a newer invalidation (or a clear) came since this fetch was sent
  pending_.erase(it);
  const std::string_view id = suffix(key);
  const uint64_t h = keyHash(id);
  if (Record* old = index_.find(id, h))
    erase(old);
  if (present) {
    const uint32_t vlen = is_string ? static_cast<uint32_t>(value.size()) : 0;
    void* mem = std::malloc(sizeof(Record) + id.size() + vlen);
    if (!mem)
      std::abort();  // out of memory: not an environment the proxy can run in
    auto* r = static_cast<Record*>(mem);
    r->hash = h;
    r->expire_ms = expire_ms;
    r->key_len = static_cast<uint32_t>(id.size());
    r->val_len = is_string ? vlen : kNotString;
    std::memcpy(r->data, id.data(), id.size());
    if (vlen)
      std::memcpy(r->data + id.size(), value.data(), vlen);
    bytes_ += malloc_usable_size(mem);
    index_.insert(r);
  }
  account();
}

void BlacklistReplica::erase(Record* r) {
  index_.erase(r);
  bytes_ -= malloc_usable_size(r);
  std::free(r);
}

void BlacklistReplica::clear() {
  std::vector<Record*> all;
  index_.forEach([&](Record* r) { all.push_back(r); });
  index_.clear();
  for (Record* r : all) {
    bytes_ -= malloc_usable_size(r);
    std::free(r);
  }
  pending_.clear();
  complete_ = false;
  account();
}

void BlacklistReplica::flushed() {
  const bool was_complete = complete_;
  clear();
  complete_ = was_complete;
}

void BlacklistReplica::setComplete(bool complete) {
  complete_ = complete;
}

void BlacklistReplica::sweep(int64_t now_ms) {
  std::vector<Record*> expired;
  index_.forEach([&](Record* r) {
    if (now_ms >= r->expire_ms)
      expired.push_back(r);
  });
  for (Record* r : expired)
    erase(r);
  if (!expired.empty())
    account();
}

}  // namespace kw

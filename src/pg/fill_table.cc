#include "pg/fill_table.h"

#include <algorithm>

namespace kw::pg {

bool FillTable::isMissing(std::string_view key, uint64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = negative_.find(std::string(key));
  if (it == negative_.end())
    return false;
  if (it->second > now_ms)
    return true;
  negative_.erase(it);
  return false;
}

void FillTable::rememberMissing(std::string_view key, uint64_t now_ms, uint64_t ttl_ms) {
  if (ttl_ms == 0)
    return;
  std::lock_guard<std::mutex> lock(mu_);
  if (negative_.size() >= max_negative_)
    sweepNegatives(now_ms);
  // Still full of live entries: not remembering costs a query later, never a wrong answer.
  if (negative_.size() >= max_negative_)
    return;
  negative_[std::string(key)] = now_ms + ttl_ms;
}

void FillTable::sweepNegatives(uint64_t now_ms) {
  for (auto it = negative_.begin(); it != negative_.end();) {
    if (it->second <= now_ms)
      it = negative_.erase(it);
    else
      ++it;
  }
}

bool FillTable::recentValue(std::string_view key, uint64_t now_ms, std::string* value) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = recent_.find(std::string(key));
  if (it == recent_.end())
    return false;
  if (it->second.expires_ms <= now_ms) {
    recent_.erase(it);
    return false;
  }
  *value = it->second.value;
  return true;
}

void FillTable::rememberRecent(std::string_view key, std::string_view value, uint64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (recent_.size() >= max_negative_) {
    for (auto it = recent_.begin(); it != recent_.end();) {
      if (it->second.expires_ms <= now_ms)
        it = recent_.erase(it);
      else
        ++it;
    }
    if (recent_.size() >= max_negative_)
      return;
  }
  recent_[std::string(key)] = Recent{std::string(value), now_ms + kRecentMs};
}

bool FillTable::join(std::string_view key, Waiter w) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, created] = flights_.try_emplace(std::string(key));
  it->second.waiters.push_back(w);
  return created;
}

bool FillTable::dirty(std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = flights_.find(std::string(key));
  return it != flights_.end() && it->second.dirty;
}

FillTable::Finished FillTable::finish(std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  Finished out;
  auto it = flights_.find(std::string(key));
  if (it == flights_.end())
    return out;
  out.waiters = std::move(it->second.waiters);
  out.dirty = it->second.dirty;
  flights_.erase(it);
  return out;
}

size_t FillTable::forgetOwner(void* owner) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto& [key, flight] : flights_) {
    auto& w = flight.waiters;
    auto end =
        std::remove_if(w.begin(), w.end(), [owner](const Waiter& x) { return x.owner == owner; });
    n += static_cast<size_t>(w.end() - end);
    w.erase(end, w.end());
  }
  return n;
}

bool FillTable::invalidate(std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string k(key);
  negative_.erase(k);
  recent_.erase(k);
  auto it = flights_.find(k);
  if (it == flights_.end())
    return false;
  it->second.dirty = true;
  return true;
}

void FillTable::recordFill(std::string_view key, uint64_t now_ms, uint64_t expires_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  // Records are in fill order and TTLs of one source are usually equal: expired ones are at the
  // front. (A shorter TTL behind a longer one is dropped later; harmless.)
  while (!fills_.empty() && fills_.front().expires_ms <= now_ms)
    fills_.pop_front();
  if (fills_.size() >= max_records_) {
    fills_.pop_front();
    ++dropped_;
  }
  fills_.push_back(Fill{std::string(key), now_ms, expires_ms});
}

std::vector<std::string> FillTable::takeFilledBefore(uint64_t before_ms, uint64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  while (!fills_.empty() && fills_.front().filled_ms < before_ms) {
    if (fills_.front().expires_ms > now_ms)
      out.push_back(std::move(fills_.front().key));
    fills_.pop_front();
  }
  return out;
}

size_t FillTable::flights() const {
  std::lock_guard<std::mutex> lock(mu_);
  return flights_.size();
}
size_t FillTable::negatives() const {
  std::lock_guard<std::mutex> lock(mu_);
  return negative_.size();
}
size_t FillTable::fillRecords() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fills_.size();
}
uint64_t FillTable::recordsDropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace kw::pg

#include "cache/blacklist_sync.h"

#include <algorithm>
#include <limits>

#include "cache/resp_values.h"
#include "common/log.h"

namespace kw {
namespace {

constexpr int64_t kNoExpiry = std::numeric_limits<int64_t>::max();
constexpr int64_t kRetryMs = 500;
constexpr int64_t kSweepMs = 5000;

// The prefix as a SCAN MATCH pattern: glob characters escaped, then '*'.
std::string matchPattern(std::string_view prefix) {
  std::string out;
  for (char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
      out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('*');
  return out;
}

}  // namespace

BlacklistSync::BlacklistSync(CacheRequests* requests, Clock clock, CacheStatsShard* stats)
    : requests_(requests), clock_(std::move(clock)), stats_(stats) {}

BlacklistSync::~BlacklistSync() {
  replicas_.clear();
  updateGauges();
}

void BlacklistSync::setReplicas(std::vector<std::unique_ptr<BlacklistReplica>> replicas,
                                Locate locate, bool feed_up) {
  ++epoch_;
  replicas_ = std::move(replicas);
  locate_ = std::move(locate);
  loads_.assign(replicas_.size(), Load{});
  retries_.clear();
  feed_up_ = feed_up;
  if (feed_up_)
    for (size_t i = 0; i < replicas_.size(); ++i)
      startLoad(i);
  updateGauges();
}

std::vector<std::string> BlacklistSync::prefixes() const {
  std::vector<std::string> out;
  for (const auto& r : replicas_)
    out.push_back(r->prefix());
  return out;
}

void BlacklistSync::updateGauges() {
  if (!stats_)
    return;
  int64_t complete = 0;
  for (const auto& r : replicas_)
    complete += r->complete();
  const auto n = static_cast<int64_t>(replicas_.size());
  stats_->replicas.add(n - shown_replicas_);
  stats_->replicas_complete.add(complete - shown_complete_);
  shown_replicas_ = n;
  shown_complete_ = complete;
}

void BlacklistSync::onFeedDown() {
  feed_up_ = false;
  ++epoch_;
  for (auto& r : replicas_)
    r->clear();
  for (Load& l : loads_)
    l = Load{};
  retries_.clear();
  updateGauges();
}

void BlacklistSync::onFeedUp() {
  feed_up_ = true;
  ++epoch_;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    replicas_[i]->clear();
    startLoad(i);
  }
  updateGauges();
}

void BlacklistSync::onInvalidateAll() {
  // Every key is gone. Fetches in flight may have read before the flush: forgotten (the keys
  // written after it are reported after the flush, on the same connection, and fetched again).
  ++epoch_;
  retries_.clear();
  for (size_t i = 0; i < replicas_.size(); ++i) {
    replicas_[i]->flushed();
    if (loads_[i].scanning || loads_[i].outstanding > 0 || loads_[i].failed) {
      // A load cut short by the flush: what it had not seen yet no longer exists.
      loads_[i] = Load{};
      if (feed_up_)
        replicas_[i]->setComplete(true);
    }
  }
  updateGauges();
}

void BlacklistSync::startLoad(size_t i) {
  Load& l = loads_[i];
  l = Load{};
  l.id = next_load_id_++;
  l.scanning = true;
  replicas_[i]->setComplete(false);
  scanPage(i, epoch_, l.id, "0");
}

void BlacklistSync::scanPage(size_t i, uint64_t epoch, uint64_t load_id,
                             const std::string& cursor) {
  const std::string pattern = matchPattern(replicas_[i]->prefix());
  std::weak_ptr<char> alive = alive_;
  requests_->send({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}, [this, alive, i, epoch,
                                                                        load_id](
                                                                           std::string_view reply) {
    if (alive.expired() || epoch != epoch_ || i >= loads_.size() || loads_[i].id != load_id)
      return;
    Load& l = loads_[i];
    std::string_view next;
    std::vector<std::string_view> keys;
    if (!parseScanReply(reply, &next, &keys)) {
      KW_LOG_WARN("blacklist load of '%s' failed: %.*s; retrying", replicas_[i]->prefix().c_str(),
                  static_cast<int>(std::min<size_t>(reply.size(), 120)), reply.data());
      l.scanning = false;
      l.failed = true;
      return;
    }
    for (std::string_view k : keys)
      if (locate_ && locate_(k) == static_cast<int>(i))
        fetch(i, k, /*for_load=*/true);
    if (next == "0") {
      l.scanning = false;
      loadStep(i);
    } else {
      scanPage(i, epoch, load_id, std::string(next));
    }
  });
}

// The load is over when the scan is and every fetch it started is in.
void BlacklistSync::loadStep(size_t i) {
  Load& l = loads_[i];
  if (l.scanning || l.failed || l.outstanding > 0 || replicas_[i]->complete())
    return;
  replicas_[i]->setComplete(true);
  KW_LOG_DEBUG("blacklist replica '%s' loaded: %zu entries", replicas_[i]->prefix().c_str(),
               replicas_[i]->entries());
  updateGauges();
}

void BlacklistSync::refresh(std::string_view key) {
  if (!locate_)
    return;
  const int i = locate_(key);
  if (i < 0 || static_cast<size_t>(i) >= replicas_.size())
    return;
  fetch(static_cast<size_t>(i), key, /*for_load=*/false);
}

void BlacklistSync::fetch(size_t i, std::string_view key, bool for_load) {
  BlacklistReplica& r = *replicas_[i];
  const uint64_t gen = r.beginFetch(key);
  if (!feed_up_)
    return;  // unknown until the feed is back (which reloads everything)
  struct State {
    std::string key;
    std::string get;
    int64_t pttl = 0;
    bool have_get = false, have_pttl = false, pttl_ok = false;
  };
  auto st = std::make_shared<State>();
  st->key.assign(key);
  const uint64_t epoch = epoch_;
  const uint64_t load_id = for_load ? loads_[i].id : 0;
  if (for_load)
    ++loads_[i].outstanding;
  std::weak_ptr<char> alive = alive_;
  auto finish = [this, alive, st, i, gen, epoch, load_id]() {
    if (alive.expired() || epoch != epoch_ || i >= replicas_.size())
      return;
    if (!st->have_get || !st->have_pttl)
      return;
    BlacklistReplica& rep = *replicas_[i];
    const bool for_load = load_id != 0 && loads_[i].id == load_id;
    std::optional<std::string_view> value;
    const bool is_nil = parseBulkOrNil(st->get, &value) && !value;
    const bool is_string = !is_nil && value.has_value();
    const bool wrong_type = st->get.compare(0, 10, "-WRONGTYPE") == 0;
    const bool get_ok = is_nil || is_string || wrong_type;
    if (for_load && loads_[i].outstanding > 0)
      --loads_[i].outstanding;
    if (!get_ok || !st->pttl_ok) {
      // Redis could not be asked: the key stays unknown (checks go to Redis) until a retry.
      if (rep.fetchPending(st->key, gen)) {
        retries_.push_back({i, st->key});
        if (for_load)
          loads_[i].failed = true;
      }
      return;
    }
    const bool absent_now = st->pttl == -2;
    if (is_nil != absent_now) {
      // The key changed between GET and PTTL: its invalidation is on its way; ask again.
      if (rep.fetchPending(st->key, gen))
        retries_.push_back({i, st->key});
    } else {
      const int64_t expire =
          st->pttl >= 0 ? clock_() + st->pttl : kNoExpiry;  // late bound: see the header
      rep.completeFetch(st->key, gen, !is_nil, is_string, is_string ? *value : std::string_view(),
                        expire);
    }
    if (for_load)
      loadStep(i);
  };
  requests_->send({"GET", key}, [st, finish](std::string_view reply) {
    st->get.assign(reply);
    st->have_get = true;
    finish();
  });
  requests_->send({"PTTL", key}, [st, finish](std::string_view reply) {
    st->pttl_ok = parseInteger(reply, &st->pttl);
    st->have_pttl = true;
    finish();
  });
}

void BlacklistSync::tick() {
  const int64_t now = clock_();
  if (now >= next_sweep_ms_) {
    next_sweep_ms_ = now + kSweepMs;
    for (auto& r : replicas_)
      r->sweep(now);
  }
  if (!feed_up_ || now < next_retry_ms_)
    return;
  next_retry_ms_ = now + kRetryMs;
  for (size_t i = 0; i < loads_.size(); ++i) {
    if (loads_[i].failed && !loads_[i].scanning)
      startLoad(i);  // (what the failed load still has in flight no longer counts)
  }
  std::vector<Retry> retries;
  retries.swap(retries_);
  for (const Retry& r : retries)
    if (r.replica < replicas_.size())
      fetch(r.replica, r.key, /*for_load=*/false);
}

}  // namespace kw

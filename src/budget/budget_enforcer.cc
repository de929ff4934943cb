#include "budget/budget_enforcer.h"

#include <algorithm>

#include "budget/budget_scripts.h"
#include "budget/resp_reply.h"
#include "common/log.h"

namespace kw {
namespace {

constexpr size_t kMaxMeasureInflight = 4;
constexpr uint64_t kMaxVictimsPerRound = 512;
constexpr size_t kMinSample = 64;
constexpr size_t kMaxSample = 2048;
constexpr int64_t kRetryMs = 200;
constexpr int64_t kStatsEveryMs = 1000;

// SCAN MATCH pattern for every key starting with `prefix`: glob characters escaped.
std::string matchPattern(std::string_view prefix) {
  std::string out;
  for (char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\')
      out += '\\';
    out += c;
  }
  out += '*';
  return out;
}

std::string firstLine(std::string_view reply) {
  const size_t eol = reply.find('\r');
  std::string out(reply.substr(0, std::min<size_t>(eol, 200)));
  if (!out.empty() && (out[0] == '-' || out[0] == '+'))
    out.erase(0, 1);
  return out;
}

// "<bytes> <keys> <budget> <evictions> <evicted_bytes> <last_enforcement_unix_ms> <complete>"
std::string encodeFigures(const BudgetNamespaceStatus& n) {
  return std::to_string(n.bytes) + " " + std::to_string(n.keys) + " " + std::to_string(n.budget) +
         " " + std::to_string(n.evictions) + " " + std::to_string(n.evicted_bytes) + " " +
         std::to_string(n.last_enforcement_unix_ms) + " " + (n.complete ? "1" : "0");
}

bool decodeFigures(std::string_view text, BudgetNamespaceStatus* n) {
  int64_t v[7];
  size_t pos = 0;
  for (int64_t& x : v) {
    const size_t end = std::min(text.find(' ', pos), text.size());
    RespNode tmp;
    tmp.type = RespNode::Type::kBulk;
    tmp.text = text.substr(pos, end - pos);
    if (!respInteger(tmp, &x))
      return false;
    pos = end + 1;
  }
  n->bytes = v[0];
  n->keys = v[1];
  n->evictions = static_cast<uint64_t>(std::max<int64_t>(0, v[3]));
  n->evicted_bytes = static_cast<uint64_t>(std::max<int64_t>(0, v[4]));
  n->last_enforcement_unix_ms = v[5];
  n->complete = v[6] == 1;
  return true;
}

}  // namespace

BudgetEnforcer::BudgetEnforcer(Env env)
    : env_(std::move(env)),
      lease_(
          env_.redis, env_.clock, [this] { onAcquired(); }, [this] { onLost(); }),
      rng_(env_.seed) {}

BudgetEnforcer::~BudgetEnforcer() = default;

void BudgetEnforcer::configure(std::vector<BudgetedNamespace> namespaces, EnforcerOptions options) {
  bool same = namespaces.size() == spaces_.size();
  for (size_t i = 0; same && i < namespaces.size(); ++i)
    same = spaces_[i]->config.name == namespaces[i].name &&
           spaces_[i]->config.prefix == namespaces[i].prefix;
  if (same) {
    for (size_t i = 0; i < namespaces.size(); ++i)
      spaces_[i]->config.budget = namespaces[i].budget;
  } else {
    // Namespace indexes change: replies in flight would land on the wrong namespace, so they are
    // dropped and everything is learnt again. A name keeps its counters.
    std::vector<std::unique_ptr<Space>> next;
    for (BudgetedNamespace& ns : namespaces) {
      auto s = std::make_unique<Space>();
      for (const auto& old : spaces_) {
        if (old->config.name == ns.name) {
          s->evictions = old->evictions;
          s->evicted_bytes = old->evicted_bytes;
          s->last_enforcement_unix_ms = old->last_enforcement_unix_ms;
        }
      }
      s->config = std::move(ns);
      s->published.name = s->config.name;
      next.push_back(std::move(s));
    }
    spaces_ = std::move(next);
    ++epoch_;
    measure_inflight_ = 0;
    want_track_ = true;
  }
  options_ = std::move(options);
  lease_.configure({options_.lease_key, options_.instance, options_.lease_ms},
                   options_.enabled && !spaces_.empty());
}

void BudgetEnforcer::reset(Space& s) {
  s.index.clear();
  s.fresh.clear();
  s.stale.clear();
  s.pool.clear();
  s.scanning = false;
  s.scan_inflight = false;
  s.complete = false;
  s.cursor = "0";
  ++s.scan_epoch;
  s.evicting = false;
}

void BudgetEnforcer::onAcquired() {
  ++epoch_;
  measure_inflight_ = 0;
  for (auto& s : spaces_)
    reset(*s);
  want_track_ = true;
  next_stats_ms_ = 0;
}

void BudgetEnforcer::onLost() {
  ++epoch_;
  measure_inflight_ = 0;
  for (auto& s : spaces_)
    reset(*s);
  want_track_ = true;
}

void BudgetEnforcer::tick() {
  lease_.tick();
  if (want_track_) {
    want_track_ = false;
    std::vector<std::string> prefixes;
    if (holding())
      for (auto& s : spaces_)
        prefixes.push_back(s->config.prefix);
    tracking_ = !prefixes.empty();
    if (env_.track)
      env_.track(std::move(prefixes));
  }
  const int64_t now = env_.clock();
  if (holding()) {
    // Ids freed by many removals are packed now and then (queues follow the renumbering).
    for (auto& s : spaces_) {
      std::vector<uint32_t> map = s->index.compact();
      if (map.empty())
        continue;
      auto remap = [&map](uint32_t id) { return id < map.size() ? map[id] : KeyIndex::kNone; };
      std::deque<uint32_t> fresh;
      for (uint32_t id : s->fresh)
        if (remap(id) != KeyIndex::kNone)
          fresh.push_back(remap(id));
      std::deque<Stale> stale;
      for (const Stale& st : s->stale)
        if (remap(st.id) != KeyIndex::kNone)
          stale.push_back({remap(st.id), st.ready_ms});
      s->fresh.swap(fresh);
      s->stale.swap(stale);
    }
    pump();
    if (now >= next_stats_ms_ && !stats_inflight_)
      publishStats();
  } else if (lease_.role() == BudgetLease::Role::kStandby) {
    if (now >= next_stats_ms_ && !stats_inflight_)
      readStats();
  }
}

void BudgetEnforcer::pump() {
  for (size_t i = 0; i < spaces_.size(); ++i)
    scanStep(i);
  measureStep();
  for (size_t i = 0; i < spaces_.size(); ++i)
    evictStep(i);
}

void BudgetEnforcer::onFeedUp() {
  feed_up_ = true;
  // Writes made while the feed was down were missed: everything is scanned (and measured) again.
  for (auto& s : spaces_) {
    s->scanning = false;
    s->scan_inflight = false;
    ++s->scan_epoch;
    s->cursor.assign(1, '0');
    s->complete = false;
  }
}

void BudgetEnforcer::onFeedDown() {
  feed_up_ = false;
  for (auto& s : spaces_) {
    s->scanning = false;
    s->scan_inflight = false;
    ++s->scan_epoch;
    s->complete = false;
  }
}

void BudgetEnforcer::onInvalidateAll() {
  // FLUSHALL / FLUSHDB (of some db): what is left is not known; scan again.
  ++epoch_;
  measure_inflight_ = 0;
  for (auto& s : spaces_)
    reset(*s);
}

void BudgetEnforcer::queueFresh(Space& s, uint32_t id) {
  s.index.set(id, KeyIndex::kQueued);
  s.fresh.push_back(id);
}

void BudgetEnforcer::onInvalidate(std::string_view key) {
  if (!holding())
    return;
  const int i = env_.locate(key);
  if (i < 0 || static_cast<size_t>(i) >= spaces_.size())
    return;
  Space& s = *spaces_[static_cast<size_t>(i)];
  bool created = false;
  const uint32_t id = s.index.insert(key, &created);
  if (id == KeyIndex::kNone)
    return;
  s.index.set(id, KeyIndex::kSeen);
  if (created) {
    queueFresh(s, id);
  } else if (!s.index.has(id, KeyIndex::kQueued)) {
    s.index.set(id, KeyIndex::kQueued);
    s.stale.push_back({id, env_.clock() + options_.remeasure_delay_ms});
  }
}

void BudgetEnforcer::scanStep(size_t i) {
  Space& s = *spaces_[i];
  const int64_t now = env_.clock();
  if (!feed_up_ || !holding() || s.scan_inflight || now < s.scan_retry_ms)
    return;
  if (!s.scanning) {
    if (s.complete)
      return;
    s.scanning = true;
    s.cursor = "0";
    ++s.scan_epoch;
    s.index.unsetAll(KeyIndex::kSeen);
  }
  // Measuring keeps up with scanning: the queue of keys to measure stays a few batches long.
  if (s.fresh.size() > 8 * size_t{options_.batch_keys})
    return;
  s.scan_inflight = true;
  const uint64_t epoch = epoch_, scan_epoch = s.scan_epoch;
  const std::string match = matchPattern(s.config.prefix);
  const std::string count = std::to_string(options_.batch_keys);
  const std::string_view args[] = {"SCAN", s.cursor, "MATCH", match, "COUNT", count};
  env_.redis->send(args, [this, i, epoch, scan_epoch](std::string_view reply) {
    if (epoch != epoch_ || i >= spaces_.size() || spaces_[i]->scan_epoch != scan_epoch)
      return;
    Space& s = *spaces_[i];
    s.scan_inflight = false;
    RespReply r;
    const RespNode& root = r.parse(reply) ? r.root() : RespNode{};
    const RespNode& cursor = r.child(root, 0);
    const RespNode& keys = r.child(root, 1);
    if (root.type != RespNode::Type::kArray || root.count != 2 || !cursor.isText() ||
        keys.type != RespNode::Type::kArray) {
      noteError("SCAN", reply);
      s.scan_retry_ms = env_.clock() + kRetryMs;
      return;
    }
    for (uint32_t k = 0; k < keys.count; ++k) {
      const RespNode& key = r.child(keys, k);
      if (!key.isText() || env_.locate(key.text) != static_cast<int>(i))
        continue;
      bool created = false;
      const uint32_t id = s.index.insert(key.text, &created);
      if (id == KeyIndex::kNone)
        continue;
      s.index.set(id, KeyIndex::kSeen);
      if (!s.index.has(id, KeyIndex::kQueued))
        queueFresh(s, id);
    }
    s.cursor.assign(cursor.text);
    if (s.cursor == "0") {
      // The end: a key indexed before the scan and neither found nor written since is gone.
      for (uint32_t id = 0; id < s.index.idLimit(); ++id)
        if (s.index.live(id) && !s.index.has(id, KeyIndex::kSeen))
          s.index.remove(id);
      s.scanning = false;
      s.complete = true;
    }
    pump();
  });
}

void BudgetEnforcer::measureStep() {
  if (!holding())
    return;
  const int64_t now = env_.clock();
  while (measure_inflight_ < kMaxMeasureInflight && now >= measure_retry_ms_) {
    // The namespace with the most waiting to be measured goes first.
    size_t best = spaces_.size();
    size_t best_work = 0;
    for (size_t i = 0; i < spaces_.size(); ++i) {
      const Space& s = *spaces_[i];
      size_t work = s.fresh.size();
      if (!s.stale.empty() && s.stale.front().ready_ms <= now)
        work += s.stale.size();
      if (work > best_work) {
        best = i;
        best_work = work;
      }
    }
    if (best == spaces_.size())
      return;
    Space& s = *spaces_[best];
    std::vector<std::string> keys;
    keys.reserve(options_.batch_keys);
    auto take = [&](uint32_t id) {
      if (!s.index.live(id) || !s.index.has(id, KeyIndex::kQueued))
        return;
      s.index.unset(id, KeyIndex::kQueued);
      keys.emplace_back(s.index.key(id));
    };
    while (!s.fresh.empty() && keys.size() < options_.batch_keys) {
      take(s.fresh.front());
      s.fresh.pop_front();
    }
    while (!s.stale.empty() && s.stale.front().ready_ms <= now &&
           keys.size() < options_.batch_keys) {
      take(s.stale.front().id);
      s.stale.pop_front();
    }
    if (keys.empty())
      continue;  // only ids of removed keys: they are gone from the queues now
    std::vector<std::string_view> args;
    args.reserve(keys.size() + 3);
    const std::string numkeys = std::to_string(keys.size());
    args.push_back("EVAL");
    args.push_back(budget_lua::kMeasure);
    args.push_back(numkeys);
    for (const std::string& k : keys)
      args.push_back(k);
    ++measure_inflight_;
    const uint64_t epoch = epoch_;
    env_.redis->send(args, [this, epoch, i = best, keys = std::move(keys)](std::string_view reply) {
      if (epoch != epoch_ || i >= spaces_.size())
        return;
      --measure_inflight_;
      Space& s = *spaces_[i];
      RespReply r;
      const RespNode& root = r.parse(reply) ? r.root() : RespNode{};
      if (root.type != RespNode::Type::kArray || root.count != keys.size()) {
        noteError("MEMORY USAGE", reply);
        measure_retry_ms_ = env_.clock() + kRetryMs;
        for (const std::string& k : keys) {
          const uint32_t id = s.index.find(k);
          if (id != KeyIndex::kNone && !s.index.has(id, KeyIndex::kQueued))
            queueFresh(s, id);
        }
        return;
      }
      measured_total_ += keys.size();
      for (uint32_t k = 0; k < root.count; ++k) {
        const uint32_t id = s.index.find(keys[k]);
        if (id == KeyIndex::kNone)
          continue;
        int64_t bytes = -1;
        if (!respInteger(r.child(root, k), &bytes) || bytes < 0) {
          if (!s.index.has(id, KeyIndex::kQueued))
            s.index.remove(id);  // gone (a key written again meanwhile is measured again)
          continue;
        }
        s.index.setBytes(id, static_cast<uint64_t>(bytes));
      }
      pump();
    });
  }
}

void BudgetEnforcer::evictStep(size_t i) {
  Space& s = *spaces_[i];
  const int64_t now = env_.clock();
  if (!holding() || s.evicting || now < s.evict_retry_ms || s.config.budget == 0)
    return;
  const uint64_t total = s.index.totalBytes();
  const size_t measured = s.index.measuredCount();
  if (total <= s.config.budget || measured == 0)
    return;
  const uint64_t target = s.config.budget / 100 * options_.evict_to_percent +
                          s.config.budget % 100 * options_.evict_to_percent / 100;
  const uint64_t need = total - std::min(total, target);
  const uint64_t avg = std::max<uint64_t>(1, total / measured);
  const uint64_t victims = std::clamp<uint64_t>((need + avg - 1) / avg, 1, kMaxVictimsPerRound);
  const size_t want = std::min(measured, std::clamp<size_t>(victims * options_.samples_per_eviction,
                                                            kMinSample, kMaxSample));
  std::vector<uint32_t> ids;
  if (measured <= want) {
    for (uint32_t id = 0; id < s.index.idLimit(); ++id)
      if (s.index.live(id) && s.index.has(id, KeyIndex::kMeasured))
        ids.push_back(id);
  } else {
    ids.reserve(want);
    for (size_t t = 0; t < 3 * want && ids.size() < want; ++t) {
      const uint32_t id = s.index.sample([this] { return rng_(); });
      if (id != KeyIndex::kNone)
        ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  }
  if (ids.empty())
    return;
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (uint32_t id : ids)
    keys.emplace_back(s.index.key(id));
  std::vector<std::string_view> args;
  args.reserve(keys.size() + 4);
  const std::string numkeys = std::to_string(keys.size());
  args.push_back("EVAL");
  args.push_back(budget_lua::kAccessClock);
  args.push_back(numkeys);
  for (const std::string& k : keys)
    args.push_back(k);
  args.push_back(use_freq_ ? "FREQ" : "IDLETIME");
  s.evicting = true;
  const uint64_t epoch = epoch_;
  env_.redis->send(args, [this, i, epoch, keys = std::move(keys)](std::string_view reply) mutable {
    chooseVictims(i, epoch, std::move(keys), reply);
  });
}

void BudgetEnforcer::chooseVictims(size_t i, uint64_t epoch, std::vector<std::string> keys,
                                   std::string_view reply) {
  if (epoch != epoch_ || i >= spaces_.size())
    return;
  Space& s = *spaces_[i];
  const int64_t now = env_.clock();
  RespReply r;
  const RespNode& root = r.parse(reply) ? r.root() : RespNode{};
  if (root.type == RespNode::Type::kError) {
    // OBJECT IDLETIME under an LFU policy, or OBJECT FREQ under another: the upstream's policy
    // says which clock exists. Switch and try again at once.
    const bool lfu_only = root.text.find("LFU maxmemory policy is selected") != std::string::npos;
    const bool lru_only =
        root.text.find("LFU maxmemory policy is not selected") != std::string::npos;
    s.evicting = false;
    if ((lfu_only && !use_freq_) || (lru_only && use_freq_)) {
      use_freq_ = lfu_only;
      for (auto& sp : spaces_)
        sp->pool.setAging(!use_freq_);
      KW_LOG_INFO("memory budgets: choosing victims by OBJECT %s (the upstream's maxmemory-policy)",
                  use_freq_ ? "FREQ" : "IDLETIME");
      return;
    }
    noteError("OBJECT", reply);
    s.evict_retry_ms = now + kRetryMs;
    return;
  }
  if (root.type != RespNode::Type::kArray || root.count != keys.size()) {
    s.evicting = false;
    noteError("OBJECT", reply);
    s.evict_retry_ms = now + kRetryMs;
    return;
  }
  sampled_total_ += keys.size();
  for (uint32_t k = 0; k < root.count; ++k) {
    const uint32_t id = s.index.find(keys[k]);
    if (id == KeyIndex::kNone)
      continue;
    int64_t v = -1;
    if (!respInteger(r.child(root, k), &v) || v < 0) {
      if (!s.index.has(id, KeyIndex::kQueued))
        s.index.remove(id);
      continue;
    }
    const double score = use_freq_ ? 255.0 - static_cast<double>(v) : static_cast<double>(v);
    s.pool.add(keys[k], s.index.bytes(id), score, now);
  }
  const uint64_t total = s.index.totalBytes();
  const uint64_t target = s.config.budget / 100 * options_.evict_to_percent +
                          s.config.budget % 100 * options_.evict_to_percent / 100;
  if (total <= s.config.budget || s.index.measuredCount() == 0) {
    s.evicting = false;
    return;
  }
  const uint64_t need = total - std::min(total, target);
  const uint64_t avg = std::max<uint64_t>(1, total / s.index.measuredCount());
  // The idlest fifth of what was read (samples_per_eviction readings per victim), at least one.
  const uint64_t max_victims = std::clamp<uint64_t>(
      std::min<uint64_t>((need + avg - 1) / avg, keys.size() / options_.samples_per_eviction), 1,
      kMaxVictimsPerRound);
  std::vector<EvictionPool::Candidate> victims =
      s.pool.take(need, max_victims, now, [&s](EvictionPool::Candidate& c) {
        const uint32_t id = s.index.find(c.key);
        // A key written since its clock was read is not idle any more.
        if (id == KeyIndex::kNone || s.index.has(id, KeyIndex::kQueued))
          return false;
        c.bytes = s.index.bytes(id);
        return true;
      });
  if (victims.empty()) {
    s.evicting = false;
    s.evict_retry_ms = now + 50;
    return;
  }
  std::vector<std::string_view> args;
  args.reserve(victims.size() + 5);
  const std::string numkeys = std::to_string(victims.size() + 1);
  args.push_back("EVAL");
  args.push_back(budget_lua::kEvict);
  args.push_back(numkeys);
  args.push_back(options_.lease_key);
  for (const EvictionPool::Candidate& c : victims)
    args.push_back(c.key);
  args.push_back(options_.instance);
  env_.redis->send(args, [this, i, epoch, victims = std::move(victims)](std::string_view reply) {
    if (epoch != epoch_ || i >= spaces_.size())
      return;
    Space& s = *spaces_[i];
    s.evicting = false;
    RespReply r;
    const RespNode& root = r.parse(reply) ? r.root() : RespNode{};
    int64_t v = 0;
    if (root.type == RespNode::Type::kInteger && respInteger(root, &v) && v == -1) {
      lease_.fenced();
      return;
    }
    if (root.type != RespNode::Type::kArray || root.count != victims.size()) {
      noteError("UNLINK", reply);
      s.evict_retry_ms = env_.clock() + kRetryMs;
      return;
    }
    bool evicted = false;
    for (uint32_t k = 0; k < root.count; ++k) {
      const uint32_t id = s.index.find(victims[k].key);
      if (id == KeyIndex::kNone)
        continue;
      int64_t unlinked = 0;
      respInteger(r.child(root, k), &unlinked);
      if (unlinked == 1) {
        ++s.evictions;
        s.evicted_bytes += s.index.bytes(id);
        evicted = true;
      }
      // An invalidation that came in after the key was chosen may be the UNLINK's own, or a write
      // after it: the key is known again only once measured.
      const bool written = s.index.has(id, KeyIndex::kQueued);
      s.index.remove(id);
      if (written) {
        bool created = false;
        const uint32_t again = s.index.insert(victims[k].key, &created);
        if (again != KeyIndex::kNone) {
          s.index.set(again, KeyIndex::kSeen);
          queueFresh(s, again);
        }
      }
    }
    if (evicted)
      s.last_enforcement_unix_ms = env_.unix_ms();
    pump();
  });
}

void BudgetEnforcer::publishStats() {
  next_stats_ms_ = env_.clock() + kStatsEveryMs;
  const std::string stats_key = options_.lease_key + ":stats";
  const BudgetSnapshot snap = snapshot();
  std::vector<std::string> values;
  for (const BudgetNamespaceStatus& n : snap.namespaces)
    values.push_back(encodeFigures(n));
  std::vector<std::string_view> args{"HSET", stats_key};
  for (size_t i = 0; i < snap.namespaces.size(); ++i) {
    args.push_back(snap.namespaces[i].name);
    args.push_back(values[i]);
  }
  if (args.size() > 2)
    env_.redis->send(args, nullptr);
  const std::string ttl = std::to_string(uint64_t{options_.lease_ms} * 3);
  const std::string_view expire[] = {"PEXPIRE", stats_key, ttl};
  env_.redis->send(expire, nullptr);
}

void BudgetEnforcer::readStats() {
  next_stats_ms_ = env_.clock() + kStatsEveryMs;
  stats_inflight_ = true;
  const std::string stats_key = options_.lease_key + ":stats";
  const std::string_view args[] = {"HGETALL", stats_key};
  const uint64_t epoch = epoch_;
  env_.redis->send(args, [this, epoch](std::string_view reply) {
    stats_inflight_ = false;
    if (epoch != epoch_)
      return;
    RespReply r;
    const bool ok = r.parse(reply);
    for (auto& s : spaces_) {
      BudgetNamespaceStatus n;
      n.name = s->config.name;
      const RespNode& v = ok ? r.field(r.root(), s->config.name) : RespNode{};
      if (v.isText() && decodeFigures(v.text, &n))
        n.source = "holder";
      s->published = n;
    }
  });
}

void BudgetEnforcer::noteError(std::string_view what, std::string_view reply) {
  last_error_ = std::string(what) + ": " + firstLine(reply);
  const int64_t now = env_.clock();
  if (now - last_error_logged_ms_ >= 10000) {
    last_error_logged_ms_ = now;
    KW_LOG_WARN("memory budgets: %s", last_error_.c_str());
  }
}

BudgetSnapshot BudgetEnforcer::snapshot() const {
  BudgetSnapshot out;
  out.role = lease_.roleName();
  out.instance = options_.instance;
  out.holder = lease_.holder();
  out.lease_ttl_ms = lease_.ttlMs();
  out.lease_key = options_.lease_key;
  out.lease_ms = options_.lease_ms;
  out.acquisitions = lease_.acquisitions();
  out.losses = lease_.losses();
  out.feed_covered = feed_up_ && tracking_;
  out.access_clock = use_freq_ ? "freq" : "idletime";
  out.measured_total = measured_total_;
  out.sampled_total = sampled_total_;
  out.last_error = last_error_;
  const bool self = holding();
  for (const auto& sp : spaces_) {
    const Space& s = *sp;
    BudgetNamespaceStatus n = self ? BudgetNamespaceStatus{} : s.published;
    n.name = s.config.name;
    n.budget = s.config.budget;
    if (self) {
      n.source = "self";
      n.bytes = static_cast<int64_t>(s.index.totalBytes());
      n.keys = static_cast<int64_t>(s.index.size());
      n.evictions = s.evictions;
      n.evicted_bytes = s.evicted_bytes;
      n.last_enforcement_unix_ms = s.last_enforcement_unix_ms;
      n.pending = s.fresh.size() + s.stale.size();
      n.complete = s.complete && s.fresh.empty();
    }
    n.own_evictions = s.evictions;
    n.own_evicted_bytes = s.evicted_bytes;
    out.index_memory_bytes +=
        s.index.memoryBytes() + s.fresh.size() * sizeof(uint32_t) + s.stale.size() * sizeof(Stale);
    out.tracked_keys += s.index.size();
    out.namespaces.push_back(std::move(n));
  }
  return out;
}

}  // namespace kw

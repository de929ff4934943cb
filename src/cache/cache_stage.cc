#include "cache/cache_stage.h"

#include <algorithm>
#include <limits>

#include "cache/resp_values.h"
#include "common/log.h"
#include "policy/policy.h"
#include "proxy/command_table.h"
#include "proxy/request_shape.h"
#include "proxy/resp_writer.h"

namespace kw {
namespace {

constexpr int64_t kNoExpiry = std::numeric_limits<int64_t>::max();
// How long a write whose reply the stage cannot see blocks its keys' fills.
constexpr int64_t kBlockMs = 5000;

bool nameIs(const CommandInfo& cmd, std::string_view name) {
  return cmd.name == name;
}

void nil(std::string* out, int proto) {
  resp::null(out, proto);
}

}  // namespace

CacheStage::Op CacheStage::classify(const CommandInfo& cmd) {
  switch (cmd.name.size()) {
  case 3:
    return nameIs(cmd, "get") ? Op::kGet : Op::kNone;
  case 4:
    return nameIs(cmd, "mget") ? Op::kMget : nameIs(cmd, "hget") ? Op::kHget : Op::kNone;
  case 5:
    return nameIs(cmd, "hmget") ? Op::kHmget : Op::kNone;
  case 6:
    return nameIs(cmd, "exists") ? Op::kExists : Op::kNone;
  case 7:
    return nameIs(cmd, "hgetall") ? Op::kHgetall : Op::kNone;
  default:
    return Op::kNone;
  }
}

CacheStage::CacheStage(Env env)
    : env_(std::move(env)), cache_(64ull << 20, env_.stats),
      feed_(env_.pools, env_.masters, env_.clock, InvalidationFeed::Options{},
            env_.stats ? &env_.stats->feed : nullptr),
      sync_(env_.requests, env_.clock, env_.stats) {
  InvalidationFeed::Options o;
  o.client_name = env_.feed_name;
  feed_.setOptions(o);
}

CacheStage::~CacheStage() {
  // Stop the feed before what its consumers own goes.
  feed_.unsubscribe(this);
  feed_.unsubscribe(&sync_);
}

// ---- configuration ----

void CacheStage::configure(const std::shared_ptr<const Config>& config,
                           const std::shared_ptr<const CompiledPolicy>& policy) {
  if (config.get() == config_.get() && policy.get() == policy_.get())
    return;
  config_ = config;
  policy_ = policy;
  const CacheConfig& cc = config_->cache;
  const size_t n = policy_->namespaceCount();
  by_ns_.assign(n, Rule{});
  by_counter_.assign(policy_->counterNames().size(), Rule{});
  std::vector<std::string> near_prefixes;
  std::vector<std::unique_ptr<BlacklistReplica>> replicas;
  std::string cache_sig, bl_sig;
  for (uint32_t i = 0; i < n; ++i) {
    const NamespaceConfig& ns = policy_->ns(i);
    const std::string prefix(policy_->namespaces().at(i).pattern.literalPrefix());
    const NamespaceCacheConfig nc =
        i < cc.namespaces.size() ? cc.namespaces[i] : NamespaceCacheConfig{};
    Rule rule;
    rule.counter = policy_->counterId(i);
    rule.slot = cacheStatsSlot(rule.counter);
    if (prefix.empty()) {
      // Nothing to track: neither cached nor replicated (config validation says so).
    } else if (ns.kind == NamespaceKind::kBlacklist) {
      rule.mode = Rule::kBlacklist;
      rule.replica = static_cast<int>(replicas.size());
      rule.fail_open = nc.fail_open;
      replicas.push_back(std::make_unique<BlacklistReplica>(
          prefix, env_.stats ? &env_.stats->ns[rule.slot] : nullptr));
      bl_sig += ns.name + '\0' + prefix + '\n';
    } else if (nc.near_cache) {
      rule.mode = Rule::kNear;
      rule.max_ttl_ms = static_cast<int64_t>(nc.max_ttl_ms);
      for (const ReadThroughConfig& rt : config_->pg.read_through)
        rule.read_through |= rt.ns == ns.name;
      near_prefixes.push_back(prefix);
      cache_sig += ns.name + '\0' + prefix + '\0' + std::to_string(nc.max_ttl_ms) + '\n';
    }
    by_ns_[i] = rule;
    by_counter_[policy_->counterId(i)] = rule;
  }
  active_ = !near_prefixes.empty() || !replicas.empty();
  if (cache_sig != cache_signature_) {
    cache_.clear();  // what is cached, or how long, changed: start afresh
    cache_signature_ = std::move(cache_sig);
  }
  cache_.setMaxBytes(std::max<uint64_t>(cc.max_bytes / std::max(1u, env_.workers), 4096));
  admission_ = cc.admission;
  if (admission_ == CacheAdmission::kSecondRead) {
    // About one remembered read per 64 bytes of budget, within bounds.
    size_t want = std::clamp<uint64_t>(cache_.maxBytes() / 64, 4096, 1u << 22);
    size_t slots = 1;
    while (slots < want)
      slots <<= 1;
    if (ghost_.size() != slots)
      ghost_.assign(slots, 0);
  } else {
    ghost_.clear();
  }
  InvalidationFeed::Options o;
  o.heartbeat_ms = cc.heartbeat_ms;
  o.timeout_ms = cc.feed_timeout_ms;
  o.backoff_min_ms = config_->upstream.reconnect_backoff_min_ms;
  o.backoff_max_ms = config_->upstream.reconnect_backoff_max_ms;
  o.client_name = env_.feed_name;
  feed_.setOptions(o);
  if (bl_sig != blacklist_signature_) {
    blacklist_signature_ = std::move(bl_sig);
    sync_.setReplicas(
        std::move(replicas),
        [this](std::string_view key) {
          const Rule& r = ruleForKey(key);
          return r.mode == Rule::kBlacklist ? r.replica : -1;
        },
        feed_.covered());
  }
  feed_.subscribe(this, std::move(near_prefixes));
  feed_.subscribe(&sync_, sync_.prefixes());
}

void CacheStage::reconfigure() {
  std::shared_ptr<const Config> config;
  std::shared_ptr<const CompiledPolicy> policy;
  env_.snapshot(&config, &policy);
  if (config && policy)
    configure(config, policy);
}

void CacheStage::tick() {
  refresh();
  feed_.tick();
  sync_.tick();
  const int64_t now = env_.clock();
  if (now < next_gc_ms_)
    return;
  next_gc_ms_ = now + 1000;
  // A request whose client left before its reply never comes back here (the session drops the
  // reply): its record is reclaimed once it is older than any reply can be.
  const int64_t horizon =
      now - 2 * static_cast<int64_t>(config_ ? config_->upstream.request_timeout_ms : 5000) - 1000;
  for (Pending& p : pending_)
    if (p.used && p.sent_ms < horizon)
      release(&p);
}

const CacheStage::Rule& CacheStage::ruleForNs(uint32_t ns) const {
  return ns < by_ns_.size() ? by_ns_[ns] : none_;
}

const CacheStage::Rule& CacheStage::ruleForKey(std::string_view key) const {
  return ruleForNs(policy_->namespaces().resolve(key).ns);
}

void CacheStage::flush() {
  cache_.clear();
}

void CacheStage::flushCounterId(uint32_t counter_id) {
  cache_.clearSlot(cacheStatsSlot(counter_id));
}

// ---- the feed (near cache) ----

void CacheStage::onInvalidate(std::string_view key) {
  cache_.invalidate(key, keyHash(key));
}

void CacheStage::onInvalidateAll() {
  cache_.clear();
}

void CacheStage::onFeedDown() {
  // Invalidations may be missed from now on: nothing cached can be trusted, and fills in flight
  // lose their markers with it.
  cache_.clear();
}

// ---- the request path ----

RequestStage::Verdict CacheStage::onRequest(StageRequest& req) {
  refresh();
  if (!active_)
    return Verdict::kContinue;
  const CommandInfo* cmd = req.command();
  if (!cmd)
    return Verdict::kContinue;
  if (cmd->flags & (kWrite | kScripting))
    return onWrite(req, *cmd);
  const Op op = classify(*cmd);
  if (op == Op::kNone)
    return Verdict::kContinue;
  const uint32_t counter = req.firstKeyNamespace();
  const Rule& rule = counter < by_counter_.size() ? by_counter_[counter] : none_;
  switch (rule.mode) {
  case Rule::kNone:
    return Verdict::kContinue;
  case Rule::kNear:
    return onNearRead(req, op, rule);
  case Rule::kBlacklist:
    return onBlacklistRead(req, op);
  }
  return Verdict::kContinue;
}

RequestStage::Verdict CacheStage::onNearRead(StageRequest& req, Op op, const Rule& rule) {
  // Only what a read returns for any client may be answered: the configured db, outside MULTI,
  // no pinned or streaming connection, keywarden's own upstream identity.
  if (!req.plainState() || !feed_.covered())
    return Verdict::kContinue;
  // In a read-through namespace only GET is cached: a nil there is a miss for the read-through
  // stage to fill, never an answer to keep (nor an EXISTS 0 a later GET could be answered from).
  if (rule.read_through && op != Op::kGet)
    return Verdict::kContinue;
  const std::span<const std::string_view> args = req.args();
  if (op == Op::kMget || op == Op::kExists) {
    for (size_t i = 2; i < args.size(); ++i) {
      const Rule& r = ruleForKey(args[i]);
      if (r.mode != Rule::kNear || r.read_through)
        return Verdict::kContinue;
    }
  }
  const int64_t now = env_.clock();
  NsCacheCounters* c = env_.stats ? &env_.stats->ns[rule.slot] : nullptr;
  if (answerFromCache(op, args, req.proto(), now)) {
    if (c)
      c->hits.add();
    req.answer(hit_);
    return Verdict::kDone;
  }
  if (c)
    c->misses.add();
  return startFill(req, op, rule, now);
}

// The answer to a read when every key (and field) it needs is in the cache, into out_.
bool CacheStage::answerFromCache(Op op, std::span<const std::string_view> args, int proto,
                                 int64_t now) {
  if (!buildAnswer(op, args, proto, now))
    return false;
  if (hit_.empty())
    hit_ = out_;  // (a reply is never empty)
  return true;
}

bool CacheStage::buildAnswer(Op op, std::span<const std::string_view> args, int proto,
                             int64_t now) {
  using Kind = NearCache::Kind;
  out_.clear();
  hit_ = {};
  switch (op) {
  case Op::kGet: {
    const NearCache::Entry* e = cache_.lookup(args[1], keyHash(args[1]), now);
    if (!e)
      return false;
    if (e->kind == Kind::kString) {
      hit_ = e->value;  // the stored bulk is the reply, in either protocol
      return true;
    }
    if (e->kind == Kind::kAbsent) {
      nil(&out_, proto);
      return true;
    }
    return false;  // a hash (WRONGTYPE) or a value not known: Redis says
  }
  case Op::kExists: {
    int64_t count = 0;
    for (size_t i = 1; i < args.size(); ++i) {
      const NearCache::Entry* e = cache_.lookup(args[i], keyHash(args[i]), now);
      if (!e)
        return false;
      if (e->kind == Kind::kAbsent)
        continue;
      if (e->kind == Kind::kHash && !e->hash_value->complete &&
          std::none_of(e->hash_value->fields.begin(), e->hash_value->fields.end(),
                       [](const auto& f) { return f.second.has_value(); }))
        return false;  // only absent fields known: the key may not exist
      ++count;
    }
    resp::integer(&out_, count);
    return true;
  }
  case Op::kMget: {
    resp::arrayHeader(&out_, static_cast<int64_t>(args.size() - 1));
    for (size_t i = 1; i < args.size(); ++i) {
      const NearCache::Entry* e = cache_.lookup(args[i], keyHash(args[i]), now);
      if (!e || e->kind == Kind::kExists)
        return false;
      if (e->kind == Kind::kString)
        out_.append(e->value);
      else
        nil(&out_, proto);  // absent, or not a string: MGET answers nil for both
    }
    return true;
  }
  case Op::kHget:
  case Op::kHmget: {
    const NearCache::Entry* e = cache_.lookup(args[1], keyHash(args[1]), now);
    if (!e || (e->kind != Kind::kHash && e->kind != Kind::kAbsent))
      return false;
    if (op == Op::kHmget)
      resp::arrayHeader(&out_, static_cast<int64_t>(args.size() - 2));
    for (size_t i = 2; i < args.size(); ++i) {
      if (e->kind == Kind::kAbsent) {
        nil(&out_, proto);
        continue;
      }
      const auto* f = e->hash_value->find(args[i]);
      if (!f && !e->hash_value->complete)
        return false;
      if (f && f->second)
        resp::bulk(&out_, *f->second);
      else
        nil(&out_, proto);
    }
    return true;
  }
  case Op::kHgetall: {
    const NearCache::Entry* e = cache_.lookup(args[1], keyHash(args[1]), now);
    if (!e)
      return false;
    if (e->kind == Kind::kAbsent) {
      resp::mapHeader(&out_, proto, 0);
      return true;
    }
    if (e->kind != Kind::kHash || !e->hash_value->complete)
      return false;
    const auto& fields = e->hash_value->fields;
    resp::mapHeader(&out_, proto, static_cast<int64_t>(fields.size()));
    for (const auto& [f, v] : fields) {
      resp::bulk(&out_, f);
      resp::bulk(&out_, v ? *v : std::string());
    }
    return true;
  }
  case Op::kNone:
    break;
  }
  return false;
}

bool CacheStage::admit(uint64_t hash) {
  if (admission_ != CacheAdmission::kSecondRead || ghost_.empty())
    return true;
  const size_t slot = hash & (ghost_.size() - 1);
  const auto fingerprint = static_cast<uint32_t>(hash >> 32) | 1u;
  if (ghost_[slot] == fingerprint) {
    ghost_[slot] = 0;
    return true;
  }
  ghost_[slot] = fingerprint;
  return false;
}

RequestStage::Verdict CacheStage::startFill(StageRequest& req, Op op, const Rule& rule,
                                            int64_t now) {
  const std::span<const std::string_view> args = req.args();
  // Keys of the request: one for the hash reads, every argument for MGET and EXISTS.
  const size_t last_key = (op == Op::kMget || op == Op::kExists) ? args.size() - 1 : 1;
  if (op == Op::kExists && args.size() != 2)
    return Verdict::kContinue;  // a count over several keys cannot be split per key
  const uint64_t tag = newPending(Pending::kFill);
  Pending* p = pending(tag);
  p->op = op;
  p->proto = req.proto();
  p->slot = rule.slot;
  p->counter = rule.counter;
  p->read_through = rule.read_through;
  p->sent_ms = now;
  p->max_ttl_ms = rule.max_ttl_ms;
  bool any = false;
  for (size_t i = 1; i <= last_key; ++i) {
    if (p->nkeys == p->keys.size())
      p->keys.emplace_back();
    FillKey& k = p->keys[p->nkeys++];
    k.key.assign(args[i]);
    k.hash = keyHash(args[i]);
    k.pttl_in = k.pttl_ok = false;
    const Rule& r = i == 1 ? rule : ruleForKey(args[i]);
    k.id = admit(k.hash) ? cache_.beginFill(args[i], k.hash, r.slot, now) : 0;
    any |= k.id != 0;
  }
  for (size_t i = 2; i < args.size() && (op == Op::kHget || op == Op::kHmget); ++i) {
    if (p->nfields == p->fields.size())
      p->fields.emplace_back();
    p->fields[p->nfields++].assign(args[i]);
  }
  if (!any) {
    release(p);
    return Verdict::kContinue;
  }
  if (!req.forward(req.raw(), this, tag)) {
    for (size_t i = 0; i < p->nkeys; ++i)
      if (p->keys[i].id != 0)
        cache_.invalidate(p->keys[i].key, p->keys[i].hash);  // (the fill marker)
    const bool read_through = p->read_through;
    release(p);
    // Redis cannot be asked: a read-through key is still answered, from PostgreSQL; anything
    // else gets the session's -UPSTREAMDOWN.
    return read_through ? Verdict::kContinue : Verdict::kDone;
  }
  // The expiry of every key filled, asked aside: Redis reports an expired key only when it
  // deletes it, so an entry must carry its key's TTL.
  std::weak_ptr<char> alive = alive_;
  for (size_t i = 0; i < p->nkeys; ++i) {
    if (p->keys[i].id == 0)
      continue;
    ++p->pttl_outstanding;
    env_.requests->send({"PTTL", p->keys[i].key}, [this, alive, tag, i](std::string_view reply) {
      if (!alive.expired())
        onPttl(tag, i, reply);
    });
  }
  return Verdict::kDone;
}

// ---- blacklist checks ----

RequestStage::Verdict CacheStage::onBlacklistRead(StageRequest& req, Op op) {
  if (op != Op::kGet && op != Op::kExists)
    return Verdict::kContinue;
  if (!req.plainState())
    return Verdict::kContinue;
  const std::span<const std::string_view> args = req.args();
  const int64_t now = env_.clock();
  const Rule& first = ruleForNs(policy_->namespaces().resolve(args[1]).ns);
  NsCacheCounters* c = env_.stats ? &env_.stats->ns[first.slot] : nullptr;
  bool fail_open = true;
  bool known = feed_.covered();
  int64_t count = 0;
  std::optional<std::string_view> value;
  for (size_t i = 1; i < args.size(); ++i) {
    const Rule& r = i == 1 ? first : ruleForKey(args[i]);
    if (r.mode != Rule::kBlacklist)
      return Verdict::kContinue;  // EXISTS over keys of other namespaces: Redis counts
    fail_open &= r.fail_open;
    if (!known)
      continue;
    std::optional<std::string_view> v;
    switch (sync_.replica(static_cast<size_t>(r.replica)).lookup(args[i], now, &v)) {
    case BlacklistReplica::Answer::kUnknown:
      known = false;
      break;
    case BlacklistReplica::Answer::kAbsent:
      break;
    case BlacklistReplica::Answer::kPresent:
      ++count;
      value = v;
      if (op == Op::kGet && !v)
        known = false;  // another type: GET's WRONGTYPE is Redis's to say
      break;
    }
  }
  if (known) {
    if (c)
      c->bl_local.add();
    out_.clear();
    if (op == Op::kExists)
      resp::integer(&out_, count);
    else if (count == 0)
      nil(&out_, req.proto());
    else
      resp::bulk(&out_, *value);
    req.answer(out_);
    return Verdict::kDone;
  }
  // The replica cannot vouch for it: Redis answers (never "not revoked" from a stale replica).
  if (c)
    c->bl_redis.add();
  const uint64_t tag = newPending(Pending::kCheck);
  Pending* p = pending(tag);
  p->op = op;
  p->proto = req.proto();
  p->slot = first.slot;
  p->sent_ms = now;
  p->fail_open = fail_open;
  if (req.forward(req.raw(), this, tag))
    return Verdict::kDone;
  release(p);
  if (!fail_open)
    return Verdict::kDone;  // the session answers -UPSTREAMDOWN: an error, not "not revoked"
  if (c)
    c->bl_fail_open.add();
  KW_LOG_WARN("blacklist check answered \"not revoked\" without Redis (blacklist_fail_open)");
  out_.clear();
  if (op == Op::kExists)
    resp::integer(&out_, 0);
  else
    nil(&out_, req.proto());
  req.answer(out_);
  return Verdict::kDone;
}

// ---- writes ----

RequestStage::Verdict CacheStage::onWrite(StageRequest& req, const CommandInfo& cmd) {
  const std::span<const std::string_view> args = req.args();
  const bool flush_all = (cmd.flags & kNoKeys) && (nameIs(cmd, "flushall") ||
                                                   nameIs(cmd, "flushdb") || nameIs(cmd, "swapdb"));
  positions_.clear();
  CommandTable::keyPositions(cmd, args.size(), args.data(), &positions_);
  const int64_t now = env_.clock();
  const bool forwardable = req.plainState() && !req.inMulti() && !(cmd.flags & kBlocking) && [&] {
    const RequestShape shape = classifyRequest(&cmd, args, false);
    return shape.shape == ReplyShape::kOne && !shape.own_link && !shape.blocking;
  }();
  uint64_t tag = 0;
  Pending* p = nullptr;
  for (int pos : positions_) {
    const std::string_view key = args[static_cast<size_t>(pos)];
    const Rule& r = ruleForKey(key);
    if (r.mode == Rule::kNone)
      continue;
    const uint64_t h = keyHash(key);
    if (r.mode == Rule::kNear) {
      if (forwardable)
        cache_.invalidate(key, h);
      else
        cache_.block(key, h, r.slot, now + kBlockMs);
    } else {
      sync_.refresh(key);
    }
    if (!forwardable)
      continue;
    if (!p) {
      tag = newPending(Pending::kWrite);
      p = pending(tag);
      p->sent_ms = now;
    }
    if (p->nkeys == p->keys.size())
      p->keys.emplace_back();
    FillKey& k = p->keys[p->nkeys++];
    k.key.assign(key);
    k.hash = h;
  }
  if (flush_all) {
    cache_.clear();
    if (forwardable && !p) {
      tag = newPending(Pending::kWrite);
      p = pending(tag);
      p->sent_ms = now;
    }
  }
  if (!p)
    return Verdict::kContinue;
  p->flush_all = flush_all;
  if (!req.forward(req.raw(), this, tag))
    release(p);  // nothing sent; the session answers why
  return Verdict::kDone;
}

// ---- replies ----

// A GET of a read-through key that Redis answered nil (or could not answer): the read-through
// stage fills it into the client's slot. Nothing is cached for the key this time; the next read
// finds the filled value in Redis.
bool CacheStage::handOverMiss(Pending* p, ReplySlot* slot, std::string_view reply) {
  const bool down = reply.compare(0, 13, "-UPSTREAMDOWN") == 0;
  std::optional<std::string_view> v;
  if (!down && !(parseBulkOrNil(reply, &v) && !v))
    return false;
  FillKey& k = p->keys[0];
  if (k.id != 0) {
    cache_.invalidate(k.key, k.hash);
    k.id = 0;
  }
  MissFiller* filler = env_.miss_filler ? env_.miss_filler() : nullptr;
  return slot && filler && filler->takeMiss(slot, p->proto, p->counter, k.key, !down);
}

std::string_view CacheStage::onReply(uint64_t tag, ReplySlot* slot, std::string_view reply,
                                     std::string* scratch, bool* kept) {
  Pending* p = pending(tag);
  if (!p)
    return reply;
  switch (p->kind) {
  case Pending::kWrite:
    // Redis has run the write: whatever was filled meanwhile (by a read that overtook it on
    // another connection) goes before the writer can read again.
    for (size_t i = 0; i < p->nkeys; ++i) {
      const FillKey& k = p->keys[i];
      const Rule& r = ruleForKey(k.key);
      if (r.mode == Rule::kNear)
        cache_.invalidate(k.key, k.hash);
      else if (r.mode == Rule::kBlacklist)
        sync_.refresh(k.key);
    }
    if (p->flush_all)
      cache_.clear();  // (the replicas wait for the feed's own flush: a refused FLUSHALL must not
                       // empty them)
    release(p);
    return reply;
  case Pending::kCheck: {
    const bool down = reply.compare(0, 13, "-UPSTREAMDOWN") == 0;
    if (down && p->fail_open) {
      if (env_.stats)
        env_.stats->ns[p->slot].bl_fail_open.add();
      KW_LOG_WARN("blacklist check answered \"not revoked\" without Redis (blacklist_fail_open)");
      scratch->clear();
      if (p->op == Op::kExists)
        resp::integer(scratch, 0);
      else
        nil(scratch, p->proto);
      release(p);
      return *scratch;
    }
    release(p);
    return reply;
  }
  case Pending::kFill:
    if (p->read_through && handOverMiss(p, slot, reply))
      *kept = true;
    if (p->pttl_outstanding == 0) {
      completeFill(p, reply);
    } else {
      p->reply.assign(reply);
      p->have_reply = true;
    }
    return reply;
  }
  return reply;
}

}  // namespace kw

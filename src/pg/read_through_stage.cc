#include "pg/read_through_stage.h"

#include <algorithm>
#include <charconv>

#include "common/log.h"
#include "pg/notify_payload.h"
#include "pg/pg_listener.h"
#include "policy/policy.h"
#include "proxy/command_table.h"
#include "proxy/reply_scanner.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/upstream_client.h"
#include "proxy/worker.h"

namespace kw::pg {
namespace {

constexpr uint64_t kLocalIdMask = (uint64_t{1} << 48) - 1;
constexpr uint64_t kProbeTickMs = 100;
constexpr size_t kUnlinkChunk = 256;
constexpr uint64_t kForwardedSlackMs = 5000;

bool isNil(std::string_view reply) {
  return reply == "$-1\r\n" || reply == "_\r\n";
}

std::string oneLine(std::string_view s) {
  std::string out(s.substr(0, 512));
  for (char& c : out)
    if (c == '\r' || c == '\n')
      c = ' ';
  return out;
}

// The elements of an array reply, each as its complete bytes. False if it is not an array.
bool splitArray(std::string_view reply, std::vector<std::string_view>* out) {
  out->clear();
  if (reply.empty() || reply[0] != '*')
    return false;
  const size_t eol = reply.find("\r\n");
  if (eol == std::string_view::npos)
    return false;
  int64_t n = 0;
  auto r = std::from_chars(reply.data() + 1, reply.data() + eol, n);
  if (r.ec != std::errc() || n < 0)
    return false;
  size_t at = eol + 2;
  for (int64_t i = 0; i < n; ++i) {
    ReplyScanner scanner;
    ReplyScanner::Frame frame;
    if (scanner.scan(reply.substr(at), &frame) != ReplyScanner::Status::kComplete)
      return false;
    out->push_back(reply.substr(at, frame.length));
    at += frame.length;
  }
  return at == reply.size();
}

// The value of a bulk reply ("$n\r\n...\r\n"); false otherwise.
bool bulkValue(std::string_view reply, std::string* out) {
  if (reply.empty() || reply[0] != '$')
    return false;
  const size_t eol = reply.find("\r\n");
  int64_t n = 0;
  auto r = std::from_chars(reply.data() + 1, reply.data() + eol, n);
  if (r.ec != std::errc() || n < 0 || eol + 2 + static_cast<size_t>(n) + 2 > reply.size())
    return false;
  out->assign(reply.substr(eol + 2, static_cast<size_t>(n)));
  return true;
}

}  // namespace

ReadThroughStage::ReadThroughStage(Worker* worker, ReadThroughHub* hub)
    : worker_(worker), hub_(hub) {
  hub_->setStage(worker_->index(), this);
  probe_timer_ = new uv_timer_t;
  uv_timer_init(worker_->loop(), probe_timer_);
  probe_timer_->data = this;
  uv_timer_start(probe_timer_, &ReadThroughStage::onProbeTimer, kProbeTickMs, kProbeTickMs);

  std::vector<bool> used(hub_->sourceCount(), false);
  for (size_t i = 0; i < hub_->namespaceCount(); ++i)
    used[hub_->ns(i).source] = true;
  for (size_t s = 0; s < hub_->sourceCount(); ++s) {
    pools_.push_back(
        std::make_unique<SourcePool>(worker_->loop(), &hub_->source(s), worker_->index()));
    if (used[s])
      pools_.back()->start();
  }
  if (worker_->index() == 0) {
    for (size_t s = 0; s < hub_->sourceCount(); ++s) {
      std::vector<std::string> channels;
      for (size_t i = 0; i < hub_->namespaceCount(); ++i) {
        const auto& c = hub_->ns(i).cfg;
        if (hub_->ns(i).source == s && !c.notify_channel.empty() &&
            std::find(channels.begin(), channels.end(), c.notify_channel) == channels.end())
          channels.push_back(c.notify_channel);
      }
      if (channels.empty())
        continue;
      listeners_.push_back(std::make_unique<PgListener>(
          worker_->loop(), &hub_->source(s), std::move(channels),
          [this, s](std::string_view ch, std::string_view payload) {
            onNotification(s, ch, payload);
          },
          [this, s](uint64_t since) { onListening(s, since); }));
      listeners_.back()->start();
    }
  }
  refreshNamespaceMap();
}

ReadThroughStage::~ReadThroughStage() {
  // No flight may post to this stage any more; the leader of a running flight on another worker
  // then finds fewer waiters. Flights this stage leads are answered by the pools' shutdown.
  for (size_t s = 0; s < hub_->sourceCount(); ++s)
    hub_->source(s).table().forgetOwner(this);
  listeners_.clear();
  pools_.clear();
  hub_->setStage(worker_->index(), nullptr);
  deferred_.clear();
  // Slots still held: their clients are gone (the worker stops after its sessions); free them.
  for (auto& [id, w] : waiters_)
    if (w.kind == WaiterKind::kGet)
      Session::deliver(worker_, w.slot, "-ERR keywarden is shutting down\r\n");
  for (auto& [id, a] : assemblies_)
    Session::deliver(worker_, a.slot, "-ERR keywarden is shutting down\r\n");
  waiters_.clear();
  assemblies_.clear();
  probe_timer_->data = nullptr;
  uv_timer_stop(probe_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(probe_timer_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

// ---- namespaces ----

void ReadThroughStage::refreshNamespaceMap() {
  const CompiledPolicy& policy = worker_->policy();
  mapped_policy_ = &policy;
  const auto& names = policy.counterNames();
  ns_by_counter_.assign(names.size(), -1);
  for (size_t i = 0; i < names.size(); ++i)
    ns_by_counter_[i] = hub_->findNamespace(names[i]);
}

int32_t ReadThroughStage::nsOfKey(std::string_view key) const {
  const CompiledPolicy& policy = worker_->policy();
  const uint32_t ns = policy.namespaces().resolve(key).ns;
  return ns == Resolution::kNone ? -1 : nsOfCounter(policy.counterId(ns));
}

bool ReadThroughStage::paramsOf(size_t ns, std::string_view key,
                                std::vector<std::string>* params) const {
  const RtNamespace& n = hub_->ns(ns);
  std::vector<std::string_view> caps(n.pattern.placeholderCount());
  if (!n.pattern.match(key, caps))
    return false;
  params->clear();
  for (uint32_t c : n.cfg.param_captures)
    params->emplace_back(caps[c]);
  return true;
}

// ---- forwarded requests: what onReply needs to know ----

uint64_t ReadThroughStage::newForwarded() {
  uint32_t idx;
  if (!free_forwarded_.empty()) {
    idx = free_forwarded_.back();
    free_forwarded_.pop_back();
  } else {
    idx = static_cast<uint32_t>(forwarded_.size());
    forwarded_.emplace_back();
  }
  Forwarded& f = forwarded_[idx];
  ++f.gen;
  f.used = true;
  f.mget = false;
  f.created_ms = worker_->nowMs();
  return (uint64_t{f.gen} << 32) | idx;
}

ReadThroughStage::Forwarded* ReadThroughStage::forwarded(uint64_t tag) {
  const uint32_t idx = static_cast<uint32_t>(tag);
  if (idx >= forwarded_.size())
    return nullptr;
  Forwarded& f = forwarded_[idx];
  if (!f.used || f.gen != static_cast<uint32_t>(tag >> 32))
    return nullptr;
  return &f;
}

void ReadThroughStage::release(uint64_t tag) {
  Forwarded* f = forwarded(tag);
  if (!f)
    return;
  f->used = false;
  f->key.clear();
  f->items.clear();
  free_forwarded_.push_back(static_cast<uint32_t>(tag));
}

// A client that leaves with a GET in flight never gets its reply to onReply (the link frees the
// slot): such entries are reclaimed once no reply can come any more.
void ReadThroughStage::sweepForwarded() {
  const uint64_t limit = worker_->config().upstream.request_timeout_ms + kForwardedSlackMs;
  const uint64_t now = worker_->nowMs();
  for (uint32_t i = 0; i < forwarded_.size(); ++i) {
    Forwarded& f = forwarded_[i];
    if (f.used && now - f.created_ms > limit)
      release((uint64_t{f.gen} << 32) | i);
  }
}

// ---- the request ----

RequestStage::Verdict ReadThroughStage::onRequest(StageRequest& req) {
  const CommandInfo* cmd = req.command();
  if (!cmd)
    return Verdict::kContinue;
  if (cmd->name == "get")
    return onGet(req);
  if (cmd->name == "mget")
    return onMget(req);
  if (cmd->id == CmdId::kKeywarden)
    return onKeywarden(req);
  return Verdict::kContinue;
}

bool ReadThroughStage::takeMiss(ReplySlot* slot, int proto, uint32_t ns_counter,
                                std::string_view key, bool redis_answered) {
  if (&worker_->policy() != mapped_policy_)
    refreshNamespaceMap();
  const int32_t ns = nsOfCounter(ns_counter);
  if (ns < 0 || !hub_->ns(static_cast<size_t>(ns)).pattern.matches(key))
    return false;
  fillGet(slot, proto, static_cast<size_t>(ns), std::string(key), redis_answered);
  return true;
}

RequestStage::Verdict ReadThroughStage::onGet(StageRequest& req) {
  if (&worker_->policy() != mapped_policy_)
    refreshNamespaceMap();
  const int32_t ns = nsOfCounter(req.firstKeyNamespace());
  if (ns < 0 || req.args().size() != 2 || !req.plainState())
    return Verdict::kContinue;
  // The key's shape is checked only on a miss: a hit costs no pattern match.
  const std::string_view key = req.args()[1];
  const uint64_t tag = newForwarded();
  Forwarded& f = *forwarded(tag);
  f.ns = ns;
  f.key.assign(key);
  f.proto = req.proto();
  if (req.forward(req.raw(), this, tag))
    return Verdict::kDone;
  // Redis is down: straight from PostgreSQL, nothing cached.
  release(tag);
  if (!hub_->ns(static_cast<size_t>(ns)).pattern.matches(key))
    return Verdict::kDone;  // not a key of the namespace: the session answers -UPSTREAMDOWN
  fillGet(req.hold(), req.proto(), static_cast<size_t>(ns), std::string(key), false);
  return Verdict::kDone;
}

RequestStage::Verdict ReadThroughStage::onMget(StageRequest& req) {
  if (!req.plainState())
    return Verdict::kContinue;
  if (&worker_->policy() != mapped_policy_)
    refreshNamespaceMap();
  const auto args = req.args();
  std::vector<Forwarded::Item> items;
  for (size_t i = 1; i < args.size(); ++i) {
    const int32_t ns = nsOfKey(args[i]);
    if (ns >= 0 && hub_->ns(static_cast<size_t>(ns)).pattern.matches(args[i]))
      items.push_back({static_cast<uint32_t>(i - 1), ns, std::string(args[i])});
  }
  if (items.empty())
    return Verdict::kContinue;
  const bool all_read_through = items.size() == args.size() - 1;
  const uint64_t tag = newForwarded();
  Forwarded& f = *forwarded(tag);
  f.mget = true;
  f.proto = req.proto();
  f.items = std::move(items);
  f.all_read_through = all_read_through;
  if (req.forward(req.raw(), this, tag))
    return Verdict::kDone;
  if (!all_read_through) {
    release(tag);
    return Verdict::kDone;  // the session answers -UPSTREAMDOWN: some keys only Redis has
  }
  fillMget(req.hold(), *forwarded(tag), {}, false);
  release(tag);
  return Verdict::kDone;
}

std::string_view ReadThroughStage::onReply(uint64_t tag, ReplySlot* slot, std::string_view reply,
                                           std::string* /*scratch*/, bool* kept) {
  Forwarded* f = forwarded(tag);
  if (!f)
    return reply;
  const bool down = reply.size() > 13 && reply.substr(0, 13) == "-UPSTREAMDOWN";
  if (!f->mget) {
    if (!down && !isNil(reply)) {
      release(tag);
      return reply;  // the hit path
    }
    const size_t ns = static_cast<size_t>(f->ns);
    if (!hub_->ns(ns).pattern.matches(f->key)) {
      release(tag);
      return reply;  // not a key of the namespace (its shape is not enforced): a plain GET
    }
    *kept = true;
    std::string key = std::move(f->key);
    const int proto = f->proto;
    release(tag);
    fillGet(slot, proto, ns, key, !down);
    return {};
  }
  if (!down) {
    std::vector<std::string_view> elems;
    if (!splitArray(reply, &elems)) {
      release(tag);
      return reply;
    }
    bool any_nil = false;
    for (const auto& it : f->items)
      any_nil |= it.index < elems.size() && isNil(elems[it.index]);
    if (!any_nil) {
      release(tag);
      return reply;
    }
  } else if (!f->all_read_through) {
    release(tag);
    return reply;  // not every key is a read-through key: Redis's error stands
  }
  *kept = true;
  fillMget(slot, *f, down ? std::string_view() : reply, !down);
  release(tag);
  return {};
}

// ---- fills ----

uint64_t ReadThroughStage::addWaiter(WaiterInfo w) {
  const uint64_t id = next_waiter_++ & kLocalIdMask;
  waiters_.emplace(id, w);
  return id;
}

void ReadThroughStage::fillGet(ReplySlot* slot, int proto, size_t ns, const std::string& key,
                               bool redis_ok) {
  WaiterInfo w;
  w.kind = WaiterKind::kGet;
  w.slot = slot;
  w.proto = proto;
  startFill(ns, key, addWaiter(w), redis_ok);
}

void ReadThroughStage::fillMget(ReplySlot* slot, Forwarded& f, std::string_view reply,
                                bool redis_ok) {
  const uint64_t group = next_group_++;
  Assembly& a = assemblies_[group];
  a.slot = slot;
  a.proto = f.proto;
  std::vector<std::string_view> elems;
  if (!reply.empty())
    splitArray(reply, &elems);
  else
    elems.assign(f.items.size(), std::string_view());
  a.frames.reserve(elems.size());
  for (auto e : elems)
    a.frames.emplace_back(e);
  for (const auto& it : f.items) {
    if (it.index >= a.frames.size() || (redis_ok && !isNil(a.frames[it.index])))
      continue;
    WaiterInfo w;
    w.kind = WaiterKind::kMget;
    w.proto = f.proto;
    w.group = group;
    w.index = it.index;
    ++a.pending;
    const uint64_t id = addWaiter(w);
    startFill(static_cast<size_t>(it.ns), it.key, id, redis_ok);
  }
  if (a.pending == 0)
    completeAssembly(group);
}

void ReadThroughStage::startFill(size_t ns, const std::string& key, uint64_t id, bool redis_ok) {
  RtNamespace& n = hub_->ns(ns);
  SourceState& src = hub_->source(n.source);
  bump(n.stats.misses);
  if (!redis_ok)
    bump(n.stats.direct);
  const uint64_t now = ReadThroughHub::nowMs();
  FillResult r;
  r.ns = static_cast<uint32_t>(ns);
  if (n.cfg.negative_ttl_s != 0 && src.table().isMissing(key, now)) {
    bump(n.stats.negative_hits);
    r.kind = RowOutcome::Kind::kMissing;
    return deliverLater(id, std::move(r));
  }
  if (redis_ok && src.table().recentValue(key, now, &r.value)) {
    // Redis answered nil just before the value landed: no second query.
    bump(n.stats.coalesced);
    r.kind = RowOutcome::Kind::kFound;
    return deliverLater(id, std::move(r));
  }
  std::string cause;
  if (!src.allowQuery(&cause)) {
    bump(n.stats.errors[static_cast<size_t>(RowOutcome::Kind::kUnavailable)]);
    r.kind = RowOutcome::Kind::kUnavailable;
    r.value = cause;
    return deliverLater(id, std::move(r));
  }
  const uint64_t waiter = id | (uint64_t{worker_->index()} << 48);
  if (!src.table().join(key, FillTable::Waiter{this, waiter})) {
    bump(n.stats.coalesced);
    return;
  }
  std::vector<std::string> params;
  paramsOf(ns, key, &params);
  bump(n.stats.queries);
  pools_[n.source]->query(&n.stmt, std::move(params),
                          [this, ns, key, redis_ok](RowOutcome&& o, uint64_t us) {
                            onQueryDone(ns, key, redis_ok, std::move(o), us);
                          });
}

void ReadThroughStage::onQueryDone(size_t ns, const std::string& key, bool redis_ok, RowOutcome&& o,
                                   uint64_t latency_us) {
  RtNamespace& n = hub_->ns(ns);
  SourceState& src = hub_->source(n.source);
  if (latency_us != 0)
    n.stats.latency.observe(latency_us);
  FillResult r;
  r.ns = static_cast<uint32_t>(ns);
  r.kind = o.kind;
  switch (o.kind) {
  case RowOutcome::Kind::kFound:
    if (redis_ok && !src.table().dirty(key)) {
      const std::string ttl = std::to_string(n.cfg.ttl_s);
      std::string value = o.value;
      worker_->upstreamClient().send(
          {"SET", key, value, "EX", ttl, "NX", "GET"},
          [this, ns, key, value](std::string_view reply) { onSetReply(ns, key, value, reply); });
      return;
    }
    r.value = std::move(o.value);
    break;
  case RowOutcome::Kind::kMissing:
    bump(n.stats.missing_rows);
    if (!src.table().dirty(key))
      src.table().rememberMissing(key, ReadThroughHub::nowMs(), n.cfg.negative_ttl_s * 1000);
    break;
  default:
    bump(n.stats.errors[static_cast<size_t>(o.kind)]);
    if (o.kind == RowOutcome::Kind::kBadData || o.kind == RowOutcome::Kind::kQueryError)
      KW_LOG_WARN("read-through '%s': %s", n.cfg.ns.c_str(), o.error.c_str());
    r.value = std::move(o.error);
    break;
  }
  finishFlight(ns, key, r);
}

void ReadThroughStage::onSetReply(size_t ns, const std::string& key, const std::string& value,
                                  std::string_view reply) {
  RtNamespace& n = hub_->ns(ns);
  SourceState& src = hub_->source(n.source);
  FillResult r;
  r.ns = static_cast<uint32_t>(ns);
  r.kind = RowOutcome::Kind::kFound;
  if (isNil(reply)) {
    r.value = value;
    r.filled = true;
    bump(n.stats.fills);
    const uint64_t now = ReadThroughHub::nowMs();
    src.table().recordFill(key, now, now + n.cfg.ttl_s * 1000);
    src.table().rememberRecent(key, value, now);
  } else if (bulkValue(reply, &r.value)) {
    bump(n.stats.fill_lost_race);  // written meanwhile by someone else: theirs is served
    src.table().rememberRecent(key, r.value, ReadThroughHub::nowMs());
  } else if (reply.size() > 13 && reply.substr(0, 13) == "-UPSTREAMDOWN") {
    r.value = value;  // Redis went away meanwhile: the row is still the answer
    bump(n.stats.direct);
  } else {
    r.kind = RowOutcome::Kind::kQueryError;
    r.raw_error.assign(reply);  // e.g. WRONGTYPE: what GET itself would have answered
  }
  const FillTable::Finished fin = src.table().finish(key);
  if (fin.dirty)
    src.table().invalidate(key);  // no recent value to hand out
  if (fin.dirty && r.filled) {
    // A notification arrived while the SET was on its way: the row may have changed after our
    // SELECT. The DEL follows the SET on the same connection, so it lands after it.
    worker_->upstreamClient().send({"DEL", key}, [](std::string_view) {});
  }
  deliverToWaiters(fin.waiters, r);
}

// Each waiter gets the result on its own worker: a task posted there, or deliverLater here.
void ReadThroughStage::deliverToWaiters(const std::vector<FillTable::Waiter>& waiters,
                                        const FillResult& r) {
  for (const FillTable::Waiter& w : waiters) {
    const unsigned target = static_cast<unsigned>(w.id >> 48);
    const uint64_t local = w.id & kLocalIdMask;
    if (target == worker_->index()) {
      deliverLater(local, r);
      continue;
    }
    ReadThroughHub* hub = hub_;
    worker_->shared().workers[target]->post([hub, target, local, r] {
      if (ReadThroughStage* st = hub->stage(target))
        st->onResult(local, r);
    });
  }
}

void ReadThroughStage::finishFlight(size_t ns, const std::string& key, const FillResult& r) {
  const FillTable::Finished fin = hub_->source(hub_->ns(ns).source).table().finish(key);
  deliverToWaiters(fin.waiters, r);
}

// Results for this worker's waiters are delivered by a task posted to this worker, never from
// inside the call that produced them (which may be the session's own reply path). A task, not a
// zero timer: tasks run in the loop's poll phase, so the worker's flush (its uv_check) writes the
// replies in the same iteration; after a timer the poll would block first.
void ReadThroughStage::deliverLater(uint64_t waiter, FillResult r) {
  deferred_.emplace_back(waiter, std::move(r));
  if (deferred_.size() == 1)
    worker_->post([this] { drainDeferred(); });
}

void ReadThroughStage::drainDeferred() {
  std::vector<std::pair<uint64_t, FillResult>> batch;
  batch.swap(deferred_);
  for (auto& [id, r] : batch)
    onResult(id, r);
}

void ReadThroughStage::onResult(uint64_t id, const FillResult& r) {
  auto it = waiters_.find(id);
  if (it == waiters_.end())
    return;
  const WaiterInfo w = it->second;
  waiters_.erase(it);
  if (w.kind == WaiterKind::kGet)
    return Session::deliver(worker_, w.slot, encode(*hub_, r, w.proto));
  auto a = assemblies_.find(w.group);
  if (a == assemblies_.end())
    return;
  Assembly& as = a->second;
  if (as.warm) {
    const char* status = r.kind == RowOutcome::Kind::kMissing ? "missing"
                         : r.kind != RowOutcome::Kind::kFound ? nullptr
                         : r.filled                           ? "filled"
                                                              : "exists";
    if (r.filled)
      bump(hub_->ns(r.ns).stats.warmed);
    as.frames[w.index] = status ? status : oneLine(encode(*hub_, r, 2).substr(1));
  } else if (r.kind == RowOutcome::Kind::kFound || r.kind == RowOutcome::Kind::kMissing) {
    as.frames[w.index] = encode(*hub_, r, as.proto);
  } else if (as.error.empty()) {
    as.error = encode(*hub_, r, as.proto);
  }
  if (--as.pending == 0)
    completeAssembly(w.group);
}

void ReadThroughStage::completeAssembly(uint64_t group) {
  auto it = assemblies_.find(group);
  if (it == assemblies_.end())
    return;
  Assembly a = std::move(it->second);
  assemblies_.erase(it);
  std::string out;
  if (a.warm) {
    resp::mapHeader(&out, a.proto, static_cast<int64_t>(a.frames.size()));
    for (size_t i = 0; i < a.frames.size(); ++i) {
      resp::bulk(&out, a.labels[i]);
      resp::bulk(&out, a.frames[i]);
    }
  } else if (!a.error.empty()) {
    out = std::move(a.error);
  } else {
    resp::arrayHeader(&out, static_cast<int64_t>(a.frames.size()));
    for (const std::string& f : a.frames)
      out += f;
  }
  Session::deliver(worker_, a.slot, out);
}

std::string ReadThroughStage::encode(const ReadThroughHub& hub, const FillResult& r, int proto) {
  std::string out;
  const RtNamespace& n = hub.ns(r.ns);
  switch (r.kind) {
  case RowOutcome::Kind::kFound:
    resp::bulk(&out, r.value);
    return out;
  case RowOutcome::Kind::kMissing:
    resp::null(&out, proto);
    return out;
  case RowOutcome::Kind::kUnavailable:
  case RowOutcome::Kind::kTimeout:
    return "-ERR source '" + n.cfg.source + "' unavailable (" + oneLine(r.value) + ")\r\n";
  case RowOutcome::Kind::kBadData:
    return "-ERR read-through namespace '" + n.cfg.ns + "': bad data from source '" + n.cfg.source +
           "': " + oneLine(r.value) + "\r\n";
  case RowOutcome::Kind::kQueryError:
    if (!r.raw_error.empty())
      return r.raw_error;
    return "-ERR read-through namespace '" + n.cfg.ns + "': query failed on source '" +
           n.cfg.source + "': " + oneLine(r.value) + "\r\n";
  }
  return "-ERR read-through failed\r\n";
}

// ---- operators ----

RequestStage::Verdict ReadThroughStage::onKeywarden(StageRequest& req) {
  const auto args = req.args();
  if (args.size() < 2 || req.inMulti())
    return Verdict::kContinue;
  auto is = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return (x | 0x20) == (y | 0x20);
           });
  };
  if (is(args[1], "sources")) {
    if (args.size() != 2) {
      req.refuse("ERR syntax error: KEYWARDEN SOURCES");
      return Verdict::kDone;
    }
    req.answer(hub_->sourcesReply(req.proto()));
    return Verdict::kDone;
  }
  if (!is(args[1], "warm"))
    return Verdict::kContinue;
  if (args.size() < 4) {
    req.refuse("ERR syntax error: KEYWARDEN WARM <namespace> <id> [<id> ...]");
    return Verdict::kDone;
  }
  const int ns = hub_->findNamespace(args[2]);
  if (ns < 0) {
    req.refuse("ERR no read-through namespace " + resp::quotedInError(args[2].substr(0, 64)));
    return Verdict::kDone;
  }
  const RtNamespace& n = hub_->ns(static_cast<size_t>(ns));
  // Each id is the namespace's parameter values in params order, joined by ':'.
  std::vector<std::string> keys, labels;
  for (size_t i = 3; i < args.size(); ++i) {
    std::vector<std::string> values;
    std::string_view id = args[i];
    if (n.cfg.params.size() == 1) {
      values.emplace_back(id);
    } else {
      size_t start = 0;
      while (true) {
        const size_t colon = id.find(':', start);
        values.emplace_back(
            id.substr(start, colon == std::string_view::npos ? id.npos : colon - start));
        if (colon == std::string_view::npos)
          break;
        start = colon + 1;
      }
    }
    std::string key;
    if (!buildKey(n, values, &key)) {
      req.refuse("ERR " + resp::quotedInError(id.substr(0, 128)) + " does not make a key of '" +
                 n.cfg.ns + "' (pattern " + n.cfg.pattern + ")");
      return Verdict::kDone;
    }
    keys.push_back(std::move(key));
    labels.emplace_back(id);
  }
  ReplySlot* slot = req.hold();
  const uint64_t group = next_group_++;
  Assembly& a = assemblies_[group];
  a.slot = slot;
  a.proto = req.proto();
  a.warm = true;
  a.frames.assign(keys.size(), std::string());
  a.labels = std::move(labels);
  a.pending = keys.size();
  for (size_t i = 0; i < keys.size(); ++i) {
    WaiterInfo w;
    w.kind = WaiterKind::kWarm;
    w.proto = req.proto();
    w.group = group;
    w.index = static_cast<uint32_t>(i);
    startFill(static_cast<size_t>(ns), keys[i], addWaiter(w), true);
  }
  return Verdict::kDone;
}

bool ReadThroughStage::buildKey(const RtNamespace& n, const std::vector<std::string>& values,
                                std::string* key) {
  if (values.size() != n.cfg.params.size())
    return false;
  key->clear();
  for (const PatternSegment& seg : n.pattern.segments()) {
    if (seg.type == SegmentType::kLiteral) {
      *key += seg.text;
      continue;
    }
    auto it = std::find(n.cfg.params.begin(), n.cfg.params.end(), seg.text);
    if (it == n.cfg.params.end())
      return false;
    *key += values[static_cast<size_t>(it - n.cfg.params.begin())];
  }
  return n.pattern.matches(*key);
}

// ---- invalidation ----

void ReadThroughStage::onNotification(size_t source, std::string_view channel,
                                      std::string_view payload) {
  for (size_t i = 0; i < hub_->namespaceCount(); ++i) {
    RtNamespace& n = hub_->ns(i);
    if (n.source != source || n.cfg.notify_channel != channel)
      continue;
    bump(n.stats.notifications);
    std::vector<std::string> values;
    std::string key;
    if (!parseNotifyPayload(payload, n.cfg.params.size(), &values) || !buildKey(n, values, &key)) {
      KW_LOG_WARN("read-through '%s': notification on '%s' with a payload that makes no key "
                  "(%.80s)",
                  n.cfg.ns.c_str(), n.cfg.notify_channel.c_str(), oneLine(payload).c_str());
      continue;
    }
    hub_->source(source).table().invalidate(key);
    // The near cache, once it exists, drops the key here too.
    ReadThroughStats* stats = &n.stats;
    worker_->upstreamClient().send({"DEL", key}, [stats](std::string_view reply) {
      if (reply == ":1\r\n")
        bump(stats->invalidations);
    });
  }
}

void ReadThroughStage::onListening(size_t source, uint64_t since_ms) {
  std::vector<std::string> keys =
      hub_->source(source).table().takeFilledBefore(since_ms, ReadThroughHub::nowMs());
  if (keys.empty())
    return;
  KW_LOG_INFO("postgres source '%s': deleting %zu key(s) filled before LISTEN was back",
              hub_->source(source).config().name.c_str(), keys.size());
  SourceState* src = &hub_->source(source);
  for (size_t at = 0; at < keys.size(); at += kUnlinkChunk) {
    std::string raw;
    const size_t n = std::min(kUnlinkChunk, keys.size() - at);
    resp::arrayHeader(&raw, static_cast<int64_t>(n + 1));
    resp::bulk(&raw, "UNLINK");
    for (size_t i = at; i < at + n; ++i)
      resp::bulk(&raw, keys[i]);
    worker_->upstreamClient().sendRaw(raw, [src](std::string_view reply) {
      int64_t deleted = 0;
      if (reply.size() > 1 && reply[0] == ':')
        std::from_chars(reply.data() + 1, reply.data() + reply.size(), deleted);
      if (deleted > 0)
        bump(src->suspects_deleted, static_cast<uint64_t>(deleted));
    });
  }
}

// ---- background ----

void ReadThroughStage::onProbeTimer(uv_timer_t* t) {
  auto* self = static_cast<ReadThroughStage*>(t->data);
  if (!self)
    return;
  const uint64_t now = ReadThroughHub::nowMs();
  for (size_t s = 0; s < self->pools_.size(); ++s)
    if (self->hub_->source(s).takeProbe(now))
      self->pools_[s]->probe();
  if (++self->ticks_ % 10 == 0)
    self->sweepForwarded();
}

}  // namespace kw::pg

// Cluster mode's part of a session's dispatch (the upstream is a Redis Cluster, the client sees one
// standalone Redis):
//
//   request                                   what happens here
//   keys in one slot                          routed to the slot's master (dest_), slot-local
//   MGET MSET DEL UNLINK EXISTS TOUCH over    split by slot (split_plan.h), parts in parallel,
//   several slots                             replies merged (MultiPart)
//   other multi-slot commands                 -CROSSSLOT, as Redis Cluster answers
//   DBSIZE KEYS FLUSH* RANDOMKEY SCRIPT/      every master (fan_out.h), merged
//   FUNCTION LOAD/FLUSH/DELETE/KILL, INFO
//   SCAN                                      one master at a time, cursor translated
//   MULTI                                     answered here; the transaction starts on the node of
//                                             its first keyed command (keyless ones queued before
//                                             it are replayed there), every later key and every
//                                             WATCHed key must share that slot
//   CLUSTER KEYSLOT / COUNTKEYSINSLOT         answered / routed by slot; other CLUSTER refused
//   READONLY / READWRITE                      refused as a standalone Redis refuses them
//
// Replies by which a node says "not here" (MOVED, ASK) or "not now" (TRYAGAIN) never reach the
// client: the request goes again (redirected()), up to upstream.max_redirects times for MOVED and
// ASK, and for TRYAGAIN as long as upstream.request_timeout_ms allows.
#include <algorithm>
#include <charconv>
#include <random>

#include "cluster/fan_out.h"
#include "cluster/key_slot.h"
#include "cluster/redirect.h"
#include "cluster/scan_cursor.h"
#include "cluster/split_plan.h"
#include "common/ascii.h"
#include "proxy/multi_part.h"
#include "proxy/resp_writer.h"
#include "proxy/session.h"
#include "proxy/shared_state.h"
#include "proxy/upstream_errors.h"
#include "proxy/worker.h"

namespace kw {
namespace {

constexpr std::string_view kCrossSlot = "CROSSSLOT Keys in request don't hash to the same slot";
constexpr std::string_view kMulti = "*1\r\n$5\r\nMULTI\r\n";
// Requests larger than this are not kept for a resend: a MOVED for one becomes a TRYAGAIN.
constexpr size_t kResendMax = 1u << 20;

std::string requestOf(std::span<const std::string_view> args) {
  std::string out;
  resp::arrayHeader(&out, static_cast<int64_t>(args.size()));
  for (std::string_view a : args)
    resp::bulk(&out, a);
  return out;
}

// SSUBSCRIBE / SUNSUBSCRIBE / SPUBLISH: their channels hash like keys.
bool isShardChannelCommand(std::string_view name) {
  return name == "ssubscribe" || name == "sunsubscribe" || name == "spublish";
}

}  // namespace

bool Session::clusterMode() const {
  return worker_->topology().cluster();
}

Destination Session::slotDestination(uint16_t hash_slot) const {
  Destination d;
  d.node = worker_->nodeForSlot(hash_slot);
  d.slot_local = true;
  d.epoch = worker_->routingEpoch();
  d.hash_slot = hash_slot;
  return d;
}

bool Session::routeCluster(const DecodedRequest& req, const CommandInfo* cmd) {
  if (!cmd)
    return false;  // unknown to keywarden: the node keyless requests go to answers it
  const std::span<const std::string_view> args(req.args);
  switch (cmd->id) {
  case CmdId::kReadonly:
  case CmdId::kReadwrite:
    worker_->stats().commands_local.add();
    replyError("ERR This instance has cluster support disabled");
    return true;
  case CmdId::kMulti:
  case CmdId::kExec:
  case CmdId::kDiscard:
  case CmdId::kUnwatch:
  case CmdId::kInfo:
    return false;  // dispatchTransaction / cmdInfo know the cluster's rules
  default:
    break;
  }
  if (cmd->name == "cluster")
    return clusterCommand(req);
  if (!in_multi_) {
    if (cmd->id == CmdId::kScan) {
      startScan(req);
      return true;
    }
    if (const auto fan = cluster::fanOutOf(cmd, args)) {
      startFanOut(req, *fan, SlotEffect::kNone);
      return true;
    }
  }
  uint16_t hash_slot = ReplySlot::kNoHashSlot;
  if (isShardChannelCommand(cmd->name)) {
    const size_t last = cmd->name == "spublish" ? 2 : args.size();
    for (size_t i = 1; i < last && i < args.size(); ++i) {
      const uint16_t s = cluster::keySlot(args[i]);
      if (hash_slot != ReplySlot::kNoHashSlot && s != hash_slot) {
        refuse(kCrossSlot);
        return true;
      }
      hash_slot = s;
    }
    if (hash_slot == ReplySlot::kNoHashSlot)
      return false;
  } else {
    const cluster::SplitPlan plan = cluster::planCommand(
        cmd, args, [w = worker_](uint16_t slot) { return w->nodeForSlot(slot); });
    switch (plan.kind) {
    case cluster::PlanKind::kNoKeys:
      return false;
    case cluster::PlanKind::kError: {
      std::string_view text = plan.error;
      text.remove_prefix(1);
      text.remove_suffix(2);
      refuse(text);
      return true;
    }
    case cluster::PlanKind::kSplit:
      // A transaction keeps to one slot. Between WATCH and MULTI a split read or write is not in
      // the transaction: its parts go to their nodes as any client's (router.h: a WATCH hold
      // keeps only the WATCHed node's requests on the pinned link).
      if (in_multi_) {
        refuse(kCrossSlot);
        return true;
      }
      startSplit(plan);
      return true;
    case cluster::PlanKind::kOneSlot:
      hash_slot = plan.slot;
      break;
    }
  }
  dest_ = slotDestination(hash_slot);
  if (dest_.node == kNoNode) {
    refuse("CLUSTERDOWN Hash slot not served");
    return true;
  }
  if ((in_multi_ || cmd->id == CmdId::kWatch) && !joinTransaction(hash_slot))
    return true;
  return false;
}

// A keyed command of a transaction (or a WATCH): its slot must be the transaction's. The first
// one fixes it and, when MULTI was answered here, starts the transaction on its node.
bool Session::joinTransaction(uint16_t hash_slot) {
  if (txn_slot_ != ReplySlot::kNoHashSlot) {
    if (hash_slot == txn_slot_)
      return true;
    refuse(kCrossSlot);
    return false;
  }
  if (txn_unpinned_ && !startPinnedTransaction())
    return false;
  txn_slot_ = hash_slot;
  return true;
}

// MULTI and the keyless commands queued after it, on a link of dest_'s node; their replies were
// given already.
bool Session::startPinnedTransaction() {
  std::string cause;
  if (!router_.hold(Router::kHoldMulti, &cause, dest_)) {
    replyUnavailable(cause);
    return false;
  }
  txn_unpinned_ = false;
  std::string head(kMulti);
  uint32_t count = 1;
  if (extras_) {
    head += extras_->txn_preamble;
    count += extras_->txn_preamble_count;
    extras_->txn_preamble.clear();
    extras_->txn_preamble_count = 0;
  }
  router_.sendDropped(head, count);
  return true;
}

// A keyless command inside a MULTI answered here: queued until the transaction has a node.
void Session::queueUnpinned(std::string_view raw) {
  Extras& e = x();
  e.txn_preamble.append(raw);
  ++e.txn_preamble_count;
  worker_->stats().commands_local.add();
  replyLocal("+QUEUED\r\n");
}

void Session::endClusterTransaction() {
  txn_unpinned_ = false;
  if (!watching_)
    txn_slot_ = ReplySlot::kNoHashSlot;
  if (extras_) {
    extras_->txn_preamble.clear();
    extras_->txn_preamble_count = 0;
  }
}

bool Session::clusterCommand(const DecodedRequest& req) {
  const std::string_view sub = req.args.size() > 1 ? req.args[1] : std::string_view();
  if (equalsIgnoreCase(sub, "keyslot")) {
    worker_->stats().commands_local.add();
    if (req.args.size() != 3) {
      replyError("ERR wrong number of arguments for 'cluster|keyslot' command");
      return true;
    }
    std::string out;
    resp::integer(&out, cluster::keySlot(req.args[2]));
    replyLocal(out);
    return true;
  }
  if (equalsIgnoreCase(sub, "countkeysinslot")) {
    int64_t slot = -1;
    if (req.args.size() == 3) {
      auto r = std::from_chars(req.args[2].data(), req.args[2].data() + req.args[2].size(), slot);
      if (r.ec != std::errc() || r.ptr != req.args[2].data() + req.args[2].size())
        slot = -1;
    }
    if (req.args.size() != 3 || slot < 0 || slot >= kSlotCount) {
      worker_->stats().commands_local.add();
      replyError(req.args.size() != 3
                     ? "ERR wrong number of arguments for 'cluster|countkeysinslot' command"
                     : "ERR Invalid slot");
      return true;
    }
    dest_ = slotDestination(static_cast<uint16_t>(slot));
    if (dest_.node == kNoNode) {
      refuse("CLUSTERDOWN Hash slot not served");
      return true;
    }
    return false;  // forwarded to the slot's master
  }
  // keywarden is the cluster to its clients: a cluster-aware client must not go around it.
  worker_->stats().commands_local.add();
  replyError("ERR This instance has cluster support disabled (keywarden fronts the cluster; "
             "only CLUSTER KEYSLOT and CLUSTER COUNTKEYSINSLOT are answered)");
  return true;
}

void Session::startSplit(const cluster::SplitPlan& plan) {
  worker_->stats().commands_forwarded.add();
  worker_->stats().cluster_split.add();
  std::vector<MultiPart::Part> parts;
  parts.reserve(plan.parts.size());
  for (const cluster::SplitPart& p : plan.parts)
    parts.push_back({p.node, p.slot, p.request});
  auto shared_plan = std::make_shared<cluster::SplitPlan>(plan);
  std::shared_ptr<const Topology> topology = worker_->topologySnapshot();
  ReplySlot* client = newSlot();
  MultiPart::start(this, client, std::move(parts),
                   [shared_plan, topology](std::span<const cluster::PartOutcome> outcomes) {
                     return cluster::mergeReplies(*shared_plan, outcomes, [&](uint16_t node) {
                       return node < topology->nodes().size() ? topology->node(node).name
                                                              : std::string("?");
                     });
                   });
}

ReplySlot* Session::startFanOut(const DecodedRequest& req, const cluster::FanOut& fan,
                                SlotEffect effect) {
  worker_->stats().commands_forwarded.add();
  worker_->stats().cluster_fanout.add();
  const Topology& t = worker_->topology();
  std::vector<NodeId> masters(t.masters().begin(), t.masters().end());
  if (fan.merge == cluster::FanOutMerge::kAnyValue && masters.size() > 1) {
    // RANDOMKEY: the first master with a key answers; which one goes first varies.
    thread_local std::minstd_rand rng{std::random_device{}()};
    std::rotate(masters.begin(), masters.begin() + static_cast<long>(rng() % masters.size()),
                masters.end());
  }
  std::vector<MultiPart::Part> parts;
  std::vector<std::string> names;
  for (NodeId m : masters) {
    parts.push_back({m, ReplySlot::kNoHashSlot, std::string(req.raw)});
    names.push_back(t.node(m).name);
  }
  ReplySlot* client = newSlot();
  client->effect = effect;
  MultiPart::start(this, client, std::move(parts),
                   [fan, names](std::span<const cluster::PartOutcome> outcomes) {
                     return cluster::mergeFanOut(fan, outcomes, [&](size_t i) { return names[i]; });
                   });
  return client;
}

void Session::startScan(const DecodedRequest& req) {
  const Topology& t = worker_->topology();
  std::vector<std::string> names;
  for (NodeId m : t.masters())
    names.push_back(t.node(m).name);
  auto codec = std::make_shared<cluster::ScanCursorCodec>(names);
  const auto pos = codec->decode(req.args[1]);
  if (!pos) {
    worker_->stats().commands_local.add();
    return replyError("ERR invalid cursor");
  }
  worker_->stats().commands_forwarded.add();
  std::vector<std::string_view> args(req.args.begin(), req.args.end());
  const std::string node_cursor = std::to_string(pos->node_cursor);
  args[1] = node_cursor;
  std::vector<MultiPart::Part> parts;
  parts.push_back({t.masters()[pos->master], ReplySlot::kNoHashSlot, requestOf(args)});
  ReplySlot* client = newSlot();
  client->effect = filter_scan_ ? SlotEffect::kFilterScan : SlotEffect::kNone;
  const uint16_t master = pos->master;
  MultiPart::start(this, client, std::move(parts),
                   [codec, master](std::span<const cluster::PartOutcome> outcomes) -> std::string {
                     // *2 $<n> <cursor> <keys array>: the cursor becomes the walk's own.
                     const std::string_view reply = outcomes[0].reply;
                     if (reply.size() < 4 || reply.substr(0, 4) != "*2\r\n" || reply[4] != '$')
                       return std::string(reply);  // an error, as the node gave it
                     const size_t eol = reply.find("\r\n", 4);
                     size_t len = 0;
                     auto r = std::from_chars(reply.data() + 5, reply.data() + eol, len);
                     if (eol == std::string_view::npos || r.ec != std::errc() ||
                         eol + 2 + len + 2 > reply.size())
                       return "-ERR unexpected SCAN reply from the cluster\r\n";
                     const std::string_view cursor = reply.substr(eol + 2, len);
                     uint64_t node_next = 0;
                     auto c =
                         std::from_chars(cursor.data(), cursor.data() + cursor.size(), node_next);
                     if (c.ec != std::errc())
                       return "-ERR unexpected SCAN reply from the cluster\r\n";
                     const auto next = codec->next(master, node_next);
                     if (!next)
                       return "-ERR the cluster's SCAN cursor does not fit keywarden's cursor\r\n";
                     std::string out = "*2\r\n";
                     resp::bulk(&out, *next);
                     out.append(reply.substr(eol + 2 + len + 2));
                     return out;
                   });
}

void Session::sendPart(ReplySlot* part, std::string request, NodeId node) {
  Destination to;
  to.node = node;
  to.epoch = worker_->routingEpoch();
  if (part->hash_slot != ReplySlot::kNoHashSlot) {
    to = slotDestination(part->hash_slot);
    part->resend = request;
  }
  std::string cause;
  if (!router_.send(request, part, RequestShape{}, &cause, to))
    Session::deliver(worker_, part,
                     upstreamUnavailableError(node < worker_->topology().nodes().size()
                                                  ? worker_->topology().node(node).name
                                                  : worker_->shared().upstream_name,
                                              cause));
}

void Session::partReplied(UpstreamLink* lane, bool slot_local) {
  router_.onReplyDelivered(lane, slot_local);
}

bool Session::redirectPart(ReplySlot* part, std::string_view bytes, UpstreamLink* lane,
                           bool slot_local, std::string* replacement) {
  return redirected(part, bytes, lane, slot_local, replacement);
}

// Keeps what a redirect needs to send the request again.
void Session::keepForResend(ReplySlot* slot, std::string_view raw, bool own_link) {
  if (dest_.hash_slot == ReplySlot::kNoHashSlot) {
    // Sent by the keyless rule, though it may have keys keywarden does not know of (a command
    // missing from its table: GEORADIUS, PFDEBUG...): a MOVED or ASK then names the slot, and
    // the request follows it (redirected()) rather than the client seeing it.
    if (clusterMode() && !in_multi_ && raw.size() <= kResendMax) {
      slot->own_link = own_link;
      slot->resend.assign(raw);
    }
    return;
  }
  slot->hash_slot = dest_.hash_slot;
  slot->own_link = own_link;
  // Inside a transaction the request is queued on the transaction's node: it cannot move.
  if (!in_multi_ && raw.size() <= kResendMax)
    slot->resend.assign(raw);
}

bool Session::redirected(ReplySlot* slot, std::string_view bytes, UpstreamLink* lane,
                         bool slot_local, std::string* replacement) {
  if (bytes.size() < 5 || bytes[0] != '-' ||
      (slot->hash_slot == ReplySlot::kNoHashSlot && slot->resend.empty()))
    return false;
  const cluster::Redirect r = cluster::parseClusterError(bytes);
  if (slot->hash_slot == ReplySlot::kNoHashSlot) {
    // A request routed as keyless (keepForResend): only "not here" says where it belongs.
    if (r.kind != cluster::ClusterError::kMoved && r.kind != cluster::ClusterError::kAsk)
      return false;
    slot->hash_slot = r.slot;
  }
  switch (r.kind) {
  case cluster::ClusterError::kNone:
  case cluster::ClusterError::kCrossSlot:
    return false;
  case cluster::ClusterError::kClusterDown:
    worker_->requestTopologyRefresh(RefreshCause::kClusterDown);
    return false;
  case cluster::ClusterError::kMoved:
    worker_->stats().cluster_moved.add();
    worker_->requestTopologyRefresh(RefreshCause::kMoved);
    break;
  case cluster::ClusterError::kAsk:
    worker_->stats().cluster_ask.add();
    break;
  case cluster::ClusterError::kTryAgain:
    worker_->stats().cluster_tryagain.add();
    worker_->requestTopologyRefresh(RefreshCause::kClusterDown);
    break;
  }
  const UpstreamConfig& up = worker_->config().upstream;
  // MOVED and ASK count against max_redirects. TRYAGAIN ("not now": a multi-key request over a
  // slot whose keys are half migrated) says nothing about where the slot is: it is tried again
  // for as long as the request timeout allows, however many times (a migration moving a slot's
  // keys a few at a time answers TRYAGAIN for as long as it takes).
  const bool try_again = r.kind == cluster::ClusterError::kTryAgain;
  const uint64_t now_ns = worker_->nowNs();
  const uint64_t waited_ms = (now_ns - std::min(now_ns, slot->start_ns)) / 1000000;
  const uint64_t pause_ms = std::clamp<uint64_t>(waited_ms / 4, 5, 100);
  const bool out_of_time = try_again && waited_ms + pause_ms >= up.request_timeout_ms;
  // During a migration a multi-key request goes round: ASK from the source (its keys are not
  // all there), TRYAGAIN from the target (not all there either). Each TRYAGAIN starts the count
  // of redirects again; the request timeout bounds the whole.
  if (try_again)
    slot->redirects = 0;
  if (slot->resend.empty() || out_of_time || (!try_again && ++slot->redirects > up.max_redirects)) {
    const char* why = slot->resend.empty()
                          ? " moved while the request was queued or in flight and it cannot be "
                            "sent again; retry"
                      : out_of_time ? " is still being migrated after the request timeout; retry"
                                    : " keeps moving (too many redirects); retry";
    *replacement = "-TRYAGAIN hash slot " + std::to_string(slot->hash_slot) + why + "\r\n";
    return false;
  }
  NodeId node = kNoNode;
  if (r.kind == cluster::ClusterError::kMoved || r.kind == cluster::ClusterError::kAsk) {
    node = r.endpoint == cluster::Endpoint::kAddress
               ? worker_->topology().findHostPort(r.host, r.port)
               : kNoNode;
    if (node == kNoNode)
      worker_->requestTopologyRefresh(RefreshCause::kUnknownNode);
    else if (r.kind == cluster::ClusterError::kMoved)
      worker_->overrideSlot(r.slot, node);  // at once, before the full refresh comes
  }
  if (try_again || node == kNoNode) {
    // Not now, or a node this worker does not know yet: again shortly, by the map as it is then.
    retryLater(slot, lane, slot_local,
               try_again ? pause_ms : 10u << std::min<uint8_t>(slot->redirects, 6));
    return true;
  }
  Destination to = slotDestination(slot->hash_slot);
  to.node = node;
  RequestShape shape;
  shape.own_link = slot->own_link;
  shape.blocking = slot->own_link;
  static constexpr std::string_view kAsking = "*1\r\n$6\r\nASKING\r\n";
  const std::string_view preload =
      r.kind == cluster::ClusterError::kAsk ? kAsking : std::string_view();
  std::string cause;
  if (!router_.resend(slot->resend, preload, slot, shape, to, lane, slot_local, &cause))
    Session::deliver(worker_, slot,
                     upstreamUnavailableError(worker_->topology().node(node).name, cause));
  return true;
}

// TRYAGAIN, or a redirect to a node not in this worker's map yet: the slot stays owed (by the
// link it came back on, so nothing of this client's for that slot overtakes it) until the timer.
void Session::retryLater(ReplySlot* slot, UpstreamLink* lane, bool slot_local, uint64_t ms) {
  Extras& e = x();
  e.retries.push_back({slot, lane, worker_->nowMs() + ms, slot_local});
  if (!e.retry_timer) {
    e.retry_timer = new uv_timer_t;
    uv_timer_init(worker_->loop(), e.retry_timer);
    e.retry_timer->data = this;
  }
  uv_timer_start(e.retry_timer, &Session::onRetryTimer, ms, 0);
}

void Session::onRetryTimer(uv_timer_t* t) {
  auto* self = static_cast<Session*>(t->data);
  Extras& e = self->x();
  const uint64_t now = self->worker_->nowMs();
  std::vector<PendingRetry> due;
  uint64_t next = 0;
  for (auto it = e.retries.begin(); it != e.retries.end();) {
    if (it->due_ms <= now) {
      due.push_back(*it);
      it = e.retries.erase(it);
    } else {
      next = next == 0 ? it->due_ms : std::min(next, it->due_ms);
      ++it;
    }
  }
  if (next != 0)
    uv_timer_start(t, &Session::onRetryTimer, next - now, 0);
  for (const PendingRetry& p : due) {
    ReplySlot* slot = p.slot;
    const Destination to = self->slotDestination(slot->hash_slot);
    RequestShape shape;
    shape.own_link = slot->own_link;
    shape.blocking = slot->own_link;
    std::string cause;
    if (to.node != kNoNode &&
        self->router_.resend(slot->resend, {}, slot, shape, to, p.lane, p.slot_local, &cause))
      continue;
    if (to.node == kNoNode) {
      cause = self->worker_->topologyUnknownCause();
      self->router_.onReplyDelivered(p.lane, p.slot_local);
    }
    Session::deliver(self->worker_, slot,
                     upstreamUnavailableError(self->worker_->shared().upstream_name, cause));
  }
  self->markDirty();
}

// The client is going away: requests waiting to be sent again are answered (their owner frees
// them) and the timer goes.
void Session::dropRetries() {
  if (!extras_)
    return;
  if (extras_->wait_timer) {
    // A request waiting for a new master: its slot is the session's own, freed by close().
    uv_timer_stop(extras_->wait_timer);
    uv_close(reinterpret_cast<uv_handle_t*>(extras_->wait_timer),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    extras_->wait_timer = nullptr;
  }
  extras_->wait_slot = nullptr;
  if (extras_->retry_timer) {
    uv_timer_stop(extras_->retry_timer);
    uv_close(reinterpret_cast<uv_handle_t*>(extras_->retry_timer),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    extras_->retry_timer = nullptr;
  }
  std::vector<PendingRetry> retries;
  retries.swap(extras_->retries);
  for (const PendingRetry& p : retries) {
    if (p.slot->owner != this)
      Session::deliver(worker_, p.slot, "-ERR client closed\r\n");
  }
}

bool Session::streamKeysElsewhere(const DecodedRequest& req, const CommandInfo* cmd,
                                  std::string* node) {
  const Topology& topology = worker_->topology();
  if (!topology.cluster() || !cmd || !router_.pinned())
    return false;
  const NodeId mine = router_.pinnedNode();
  std::span<const std::string_view> args(req.args.data(), req.args.size());
  auto elsewhere = [&](uint16_t slot) {
    const NodeId owner = worker_->nodeForSlot(slot);
    return owner != kNoNode && owner != mine;
  };
  bool other = false;
  if (isShardChannelCommand(cmd->name)) {
    const size_t last = cmd->name == "spublish" ? 2 : args.size();
    for (size_t i = 1; i < last && i < args.size(); ++i)
      other = other || elsewhere(cluster::keySlot(args[i]));
  } else {
    const cluster::SplitPlan plan = cluster::planCommand(
        cmd, args, [w = worker_](uint16_t slot) { return w->nodeForSlot(slot); });
    other = plan.kind == cluster::PlanKind::kSplit ||
            (plan.kind == cluster::PlanKind::kOneSlot && elsewhere(plan.slot));
  }
  if (other && mine < topology.nodes().size())
    *node = topology.node(mine).name;
  return other;
}

}  // namespace kw

#include "proxy/upstream_client.h"

#include <memory>
#include <vector>

#include "cluster/redirect.h"
#include "proxy/command_route.h"
#include "proxy/request_decoder.h"
#include "proxy/resp_writer.h"
#include "proxy/shared_state.h"
#include "proxy/topology.h"
#include "proxy/upstream_errors.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace kw {

UpstreamClient::UpstreamClient(Worker* worker) : worker_(worker), router_(this) {
  router_.setPool(&worker_->upstreams().main());
}

UpstreamClient::~UpstreamClient() {
  // Requests still in flight: their links free the slots when the replies come.
  for (auto& [slot, cb] : callbacks_)
    slot->owner = nullptr;
  callbacks_.clear();
  std::vector<ReplySlot*> unsent;
  router_.detach(&unsent);
  for (ReplySlot* s : unsent)
    worker_->slots().put(s);
}

void UpstreamClient::send(std::initializer_list<std::string_view> args, Callback done) {
  std::string raw;
  resp::arrayHeader(&raw, static_cast<int64_t>(args.size()));
  for (std::string_view a : args)
    resp::bulk(&raw, a);
  sendRaw(raw, std::move(done));
}

void UpstreamClient::sendTo(NodeId node, std::initializer_list<std::string_view> args,
                            Callback done) {
  std::string raw;
  resp::arrayHeader(&raw, static_cast<int64_t>(args.size()));
  for (std::string_view a : args)
    resp::bulk(&raw, a);
  sendRawTo(node, raw, std::move(done));
}

void UpstreamClient::sendRawTo(NodeId node, std::string_view raw, Callback done) {
  Destination to;
  to.node = node;
  to.epoch = worker_->routingEpoch();
  sendOne(raw, to, false, std::move(done));
}

namespace {

// The replies of a request sent in parts, until the last is in.
struct Gather {
  std::vector<std::string> replies;
  std::vector<std::string> failures;
  size_t left = 0;
  std::function<std::string(std::span<const cluster::PartOutcome>)> merge;
  UpstreamClient::Callback done;
};

// An "-UPSTREAMDOWN ..." reply is a part that got no answer: merged as a failure.
bool isUnavailable(std::string_view reply) {
  return reply.starts_with("-UPSTREAMDOWN");
}

}  // namespace

void UpstreamClient::sendRaw(std::string_view raw, Callback done) {
  const Topology& topology = worker_->topology();
  if (!topology.cluster()) {
    sendOne(raw, Destination{}, false, std::move(done));
    return;
  }
  RequestDecoder decoder;
  DecodedRequest req;
  size_t consumed = 0;
  if (decoder.next(raw, DecodeLimits{}, &req, &consumed) != RequestDecoder::Status::kRequest) {
    done("-ERR keywarden could not read its own request\r\n");
    return;
  }
  CommandRoute route = routeCommand(
      topology, [this](uint16_t slot) { return worker_->nodeForSlot(slot); },
      worker_->routingEpoch(), worker_->commands().find(req.args[0]), req.args, req.raw);
  switch (route.kind) {
  case CommandRoute::Kind::kError:
    done(route.error);
    return;
  case CommandRoute::Kind::kOne:
    sendOne(raw, route.dest, route.dest.slot_local, std::move(done));
    return;
  case CommandRoute::Kind::kParts:
    break;
  }
  auto gather = std::make_shared<Gather>();
  gather->replies.resize(route.parts.size());
  gather->failures.resize(route.parts.size());
  gather->left = route.parts.size();
  gather->merge = std::move(route.merge);
  gather->done = std::move(done);
  for (size_t i = 0; i < route.parts.size(); ++i) {
    const RoutedPart& part = route.parts[i];
    Destination to;
    to.node = part.node;
    to.epoch = worker_->routingEpoch();
    to.slot_local = part.hash_slot != ReplySlot::kNoHashSlot;
    to.hash_slot = part.hash_slot;
    sendOne(part.request, to, to.slot_local, [gather, i](std::string_view reply) {
      if (isUnavailable(reply))
        gather->failures[i].assign(reply.substr(1, reply.find('\r') - 1));
      else
        gather->replies[i].assign(reply);
      if (--gather->left > 0)
        return;
      std::vector<cluster::PartOutcome> outcomes;
      outcomes.reserve(gather->replies.size());
      for (size_t k = 0; k < gather->replies.size(); ++k)
        outcomes.push_back({gather->replies[k], gather->failures[k]});
      gather->done(gather->merge(outcomes));
    });
  }
}

void UpstreamClient::sendOne(std::string_view raw, const Destination& to, bool keep_for_redirect,
                             Callback done) {
  ReplySlot* slot = worker_->slots().get();
  slot->owner = this;
  slot->start_ns = worker_->nowNs();
  slot->hash_slot = to.slot_local ? to.hash_slot : ReplySlot::kNoHashSlot;
  if (keep_for_redirect)
    slot->resend.assign(raw);
  callbacks_.emplace(slot, std::move(done));
  std::string cause;
  if (!router_.send(raw, slot, RequestShape{}, &cause, to))
    failUnsent(slot, cause);
}

// A MOVED or ASK to a node this worker knows: the request goes again, there. False: the reply
// is the answer.
bool UpstreamClient::followRedirect(ReplySlot* slot, std::string_view bytes, UpstreamLink* lane,
                                    bool slot_local) {
  if (slot->resend.empty() || bytes.size() < 5 || bytes[0] != '-')
    return false;
  const cluster::Redirect r = cluster::parseClusterError(bytes);
  if (r.kind != cluster::ClusterError::kMoved && r.kind != cluster::ClusterError::kAsk)
    return false;
  if (r.kind == cluster::ClusterError::kMoved)
    worker_->requestTopologyRefresh(RefreshCause::kMoved);
  if (++slot->redirects > worker_->config().upstream.max_redirects ||
      r.endpoint != cluster::Endpoint::kAddress)
    return false;
  const NodeId node = worker_->topology().findHostPort(r.host, r.port);
  if (node == kNoNode)
    return false;
  if (r.kind == cluster::ClusterError::kMoved)
    worker_->overrideSlot(r.slot, node);
  Destination to;
  to.node = node;
  to.epoch = worker_->routingEpoch();
  to.slot_local = true;
  to.hash_slot = slot->hash_slot;
  static constexpr std::string_view kAsking = "*1\r\n$6\r\nASKING\r\n";
  const std::string_view preload =
      r.kind == cluster::ClusterError::kAsk ? kAsking : std::string_view();
  std::string cause;
  const std::string raw = slot->resend;
  if (!router_.resend(raw, preload, slot, RequestShape{}, to, lane, slot_local, &cause))
    complete(slot, upstreamUnavailableError(worker_->topology().node(node).name, cause));
  return true;
}

void UpstreamClient::failUnsent(ReplySlot* slot, std::string_view cause) {
  complete(slot, upstreamUnavailableError(worker_->shared().upstream_name, cause));
}

void UpstreamClient::complete(ReplySlot* slot, std::string_view bytes) {
  const bool from_upstream = slot->upstream;
  UpstreamLink* lane = slot->lane;
  const bool slot_local = slot->slot_local;
  slot->upstream = false;
  if (from_upstream && followRedirect(slot, bytes, lane, slot_local))
    return;  // its reply comes back here
  auto it = callbacks_.find(slot);
  Callback cb;
  if (it != callbacks_.end()) {
    cb = std::move(it->second);
    callbacks_.erase(it);
  }
  worker_->slots().put(slot);
  if (from_upstream)
    router_.onReplyDelivered(lane, slot_local);
  if (cb)
    cb(bytes);
}

}  // namespace kw

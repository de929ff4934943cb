// keywarden's own requests to the upstream Redis, not a client's: a read-through fill's
// SET NX, loading a function, SCAN and MEMORY USAGE for memory budgets. One per worker; requests
// are one-frame commands on the worker's shared links (through a Router of its own, so the
// reply-count rule and the ordering gate hold here too), and each reply goes to a callback on the
// worker's loop. Replies to requests for one node come back in the order they were sent.
//
// With a cluster upstream a request is routed as a client's would be (command_route.h): to its
// key's master, split over several slots and merged, or to every master; a MOVED or ASK is
// followed (up to upstream.max_redirects) and never reaches the callback; TRYAGAIN and a redirect
// to a node not in the map yet come back as the node's error (the callers retry on their own
// schedule).
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/node_id.h"
#include "proxy/reply_slot.h"
#include "proxy/router.h"

namespace kw {

class Worker;

class UpstreamClient final : private RouteClient, private SlotOwner {
public:
  // The reply's complete RESP bytes (an "-UPSTREAMDOWN ..." error when no link could take the
  // request or the link broke: the command may or may not have run).
  using Callback = std::function<void(std::string_view reply)>;

  explicit UpstreamClient(Worker* worker);
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;
  ~UpstreamClient();

  void send(std::initializer_list<std::string_view> args, Callback done);
  // `raw`: one complete RESP request.
  void sendRaw(std::string_view raw, Callback done);
  // To one node whatever the command (CLIENT LIST of the node a link is on); nothing is routed.
  void sendTo(NodeId node, std::initializer_list<std::string_view> args, Callback done);
  void sendRawTo(NodeId node, std::string_view raw, Callback done);
  // Requests sent and not answered yet.
  size_t pending() const { return callbacks_.size(); }

private:
  void sendOne(std::string_view raw, const Destination& to, bool keep_for_redirect, Callback done);
  bool followRedirect(ReplySlot* slot, std::string_view bytes, UpstreamLink* lane, bool slot_local);
  void complete(ReplySlot* slot, std::string_view bytes) override;
  void onStreamBytes(std::string_view) override {}
  void onStreamEnded(UpstreamLink*) override {}
  void onLinkReply(UpstreamLink* link) override { router_.onLinkReply(link); }
  void onLinkLost(UpstreamLink*) override {}
  void failUnsent(ReplySlot* slot, std::string_view cause) override;
  uint64_t ownerId() const override { return 0; }

  Worker* worker_;
  Router router_;
  std::unordered_map<ReplySlot*, Callback> callbacks_;
};

}  // namespace kw

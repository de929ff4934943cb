// keywarden's own requests to the upstream Redis, not a client's: a read-through fill's
// SET NX, loading a function, SCAN and MEMORY USAGE for memory budgets. One per worker; requests
// are one-frame commands on the worker's shared links (through a Router of its own, so the
// reply-count rule and the ordering gate hold here too), and each reply goes to a callback on the
// worker's loop. Replies come back in the order the requests were sent.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>

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
  void sendRaw(std::string_view raw, Callback done);
  // Requests sent and not answered yet.
  size_t pending() const { return callbacks_.size(); }

private:
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

// One client request answered by several upstream requests: a cluster command split over slots
// (MGET over masters) or sent to every master (DBSIZE, FLUSHALL, SCRIPT LOAD), or SCAN's one step
// on one master with the cursor translated. Each part goes through the session's router on a slot
// of its own (owned by this object); when every part is in, `merge` makes the client's reply,
// which completes the client's slot where it stands in the session's FIFO.
//
// Lifetime: made by the session, frees itself once its last part is in. If the client goes away
// first, the session clears the client slot's owner (as for any slot in flight); the parts still
// arrive here, and the client slot is freed with them.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/split_plan.h"
#include "proxy/node_id.h"
#include "proxy/reply_slot.h"

namespace kw {

class Session;
class Worker;

class MultiPart final : public SlotOwner {
public:
  struct Part {
    NodeId node;
    uint16_t hash_slot;  // ReplySlot::kNoHashSlot for a keyless part (every master's)
    std::string request;
  };
  using Merge = std::function<std::string(std::span<const cluster::PartOutcome> outcomes)>;

  // Sends every part; `client` (the session's slot, marked external) gets the merged reply.
  static void start(Session* session, ReplySlot* client, std::vector<Part> parts, Merge merge);

  void complete(ReplySlot* slot, std::string_view bytes) override;

private:
  MultiPart(Session* session, ReplySlot* client, Merge merge, size_t parts);
  bool sessionAlive() const { return client_->owner != nullptr; }
  void finish();

  Session* session_;  // valid while sessionAlive()
  Worker* worker_;
  ReplySlot* client_;
  Merge merge_;
  std::vector<ReplySlot*> slots_;
  std::vector<std::string> replies_;
  std::vector<std::string> failures_;
  size_t left_;
};

}  // namespace kw

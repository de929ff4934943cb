#include "proxy/multi_part.h"

#include "proxy/session.h"
#include "proxy/worker.h"

namespace kw {

MultiPart::MultiPart(Session* session, ReplySlot* client, Merge merge, size_t parts)
    : session_(session), worker_(session->worker_), client_(client), merge_(std::move(merge)),
      slots_(parts, nullptr), replies_(parts), failures_(parts), left_(parts) {}

void MultiPart::start(Session* session, ReplySlot* client, std::vector<Part> parts, Merge merge) {
  client->external = true;
  auto* self = new MultiPart(session, client, std::move(merge), parts.size());
  if (parts.empty()) {
    self->finish();
    return;
  }
  // Every slot first, then the sends: a part failing at once completes here, and the last
  // completion frees this object.
  for (size_t i = 0; i < parts.size(); ++i) {
    ReplySlot* slot = session->worker_->slots().get();
    slot->owner = self;
    slot->start_ns = client->start_ns;
    slot->hash_slot = parts[i].hash_slot;
    self->slots_[i] = slot;
  }
  std::vector<ReplySlot*> slots = self->slots_;
  for (size_t i = 0; i < parts.size(); ++i)
    session->sendPart(slots[i], std::move(parts[i].request), parts[i].node);
}

void MultiPart::complete(ReplySlot* slot, std::string_view bytes) {
  size_t i = 0;
  while (i < slots_.size() && slots_[i] != slot)
    ++i;
  if (i == slots_.size())
    return;  // not ours (cannot happen)
  const bool from_upstream = slot->upstream;
  UpstreamLink* const lane = slot->lane;
  const bool slot_local = slot->slot_local;
  slot->upstream = false;
  std::string replacement;
  if (sessionAlive() && from_upstream) {
    if (session_->redirectPart(slot, bytes, lane, slot_local, &replacement))
      return;  // sent again (or soon): its reply comes back here
    session_->partReplied(lane, slot_local);
    if (!replacement.empty())
      bytes = replacement;
  }
  replies_[i].assign(bytes.data(), bytes.size());
  slots_[i] = nullptr;
  worker_->slots().put(slot);
  if (--left_ == 0)
    finish();
}

void MultiPart::finish() {
  std::vector<cluster::PartOutcome> outcomes;
  outcomes.reserve(replies_.size());
  for (size_t i = 0; i < replies_.size(); ++i)
    outcomes.push_back({replies_[i], failures_[i]});
  const std::string merged = merge_(outcomes);
  Session::deliver(worker_, client_, merged);
  delete this;
}

}  // namespace kw

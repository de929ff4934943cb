#include "proxy/upstream_client.h"

#include "proxy/resp_writer.h"
#include "proxy/shared_state.h"
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

void UpstreamClient::sendRaw(std::string_view raw, Callback done) {
  ReplySlot* slot = worker_->slots().get();
  slot->owner = this;
  slot->start_ns = worker_->nowNs();
  callbacks_.emplace(slot, std::move(done));
  std::string cause;
  if (!router_.send(raw, slot, RequestShape{}, &cause))
    failUnsent(slot, cause);
}

void UpstreamClient::failUnsent(ReplySlot* slot, std::string_view cause) {
  complete(slot, upstreamUnavailableError(worker_->shared().upstream_name, cause));
}

void UpstreamClient::complete(ReplySlot* slot, std::string_view bytes) {
  const bool from_upstream = slot->upstream;
  UpstreamLink* lane = slot->lane;
  const bool slot_local = slot->slot_local;
  slot->upstream = false;
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

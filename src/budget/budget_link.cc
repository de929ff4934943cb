#include "budget/budget_link.h"

#include <charconv>
#include <map>

#include "budget/budget_scripts.h"
#include "cluster/key_slot.h"
#include "cluster/reply_parts.h"
#include "proxy/resp_writer.h"
#include "proxy/shared_state.h"
#include "proxy/topology.h"
#include "proxy/upstream_client.h"
#include "proxy/upstream_errors.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace kw {

BudgetLink::~BudgetLink() {
  *alive_ = false;
  // The link frees slots whose owner is gone when their replies (or its failure) arrive.
  for (auto& [slot, done] : inflight_)
    slot->owner = nullptr;
  inflight_.clear();
  if (link_) {
    UpstreamLink* l = link_;
    link_ = nullptr;
    worker_->upstreams().main().anyNode().release(l);
  }
}

void BudgetLink::send(std::span<const std::string_view> args, Done done) {
  if (worker_->topology().cluster()) {
    in_send_ = true;
    sendRouted(args, std::move(done));
    in_send_ = false;
    return;
  }
  std::string cause;
  if (link_ == nullptr || !link_->accepting()) {
    if (link_ != nullptr && inflight_.empty()) {
      worker_->upstreams().main().anyNode().release(link_);
      link_ = nullptr;
    }
    if (link_ == nullptr)
      link_ = worker_->upstreams().main().anyNode().acquire(2, this, &cause);
  }
  if (link_ == nullptr || !link_->accepting()) {
    if (cause.empty())
      cause = link_ ? link_->downCause() : "no connection";
    failed_.emplace_back(upstreamUnavailableError(worker_->shared().upstream_name, cause),
                         std::move(done));
    return;
  }
  raw_.clear();
  resp::arrayHeader(&raw_, static_cast<int64_t>(args.size()));
  for (std::string_view a : args)
    resp::bulk(&raw_, a);
  ReplySlot* slot = worker_->slots().get();
  slot->owner = this;
  slot->start_ns = worker_->nowNs();
  inflight_.emplace_back(slot, std::move(done));
  link_->send(raw_, slot, false);
}

void BudgetLink::tick() {
  if (failed_.empty())
    return;
  std::vector<std::pair<std::string, Done>> failed;
  failed.swap(failed_);
  for (auto& [reply, done] : failed)
    if (done)
      done(reply);
}

void BudgetLink::complete(ReplySlot* slot, std::string_view bytes) {
  Done done;
  for (auto it = inflight_.begin(); it != inflight_.end(); ++it) {
    if (it->first == slot) {
      done = std::move(it->second);
      inflight_.erase(it);
      break;
    }
  }
  worker_->slots().put(slot);
  if (done)
    done(bytes);
}

void BudgetLink::onLinkLost(UpstreamLink* link) {
  if (link == link_)
    link_ = nullptr;  // it frees itself; its requests have had their errors
}

void BudgetLink::answer(Done& done, std::string_view reply) {
  if (in_send_)
    failed_.emplace_back(std::string(reply), std::move(done));
  else if (done)
    done(reply);
}

void BudgetLink::sendRouted(std::span<const std::string_view> args, Done done) {
  size_t numkeys = 0;
  if (args.size() >= 3 && args[0] == "EVAL") {
    auto r = std::from_chars(args[2].data(), args[2].data() + args[2].size(), numkeys);
    if (r.ec != std::errc() || 3 + numkeys > args.size())
      numkeys = 0;
  }
  const auto keys = numkeys > 1 ? args.subspan(3, numkeys) : std::span<const std::string_view>();
  const auto argv = numkeys > 1 ? args.subspan(3 + numkeys) : std::span<const std::string_view>();
  if (numkeys > 1 && (args[1] == budget_lua::kMeasure || args[1] == budget_lua::kAccessClock)) {
    evalPerSlot(args[1], keys, argv, std::move(done));
    return;
  }
  if (numkeys > 1 && args[1] == budget_lua::kEvict && !argv.empty()) {
    // The lease first; then the victims (KEYS[2..]), slot by slot.
    std::vector<std::string> victims(keys.begin() + 1, keys.end());
    const std::string holder(argv[0]);
    auto alive = alive_;
    worker_->upstreamClient().send(
        {"GET", keys[0]}, [this, alive, holder, victims = std::move(victims),
                           done = std::move(done)](std::string_view reply) mutable {
          if (!*alive)
            return;
          // "$<n>\r\n<holder>\r\n": the lease is this instance's.
          std::string expected;
          resp::bulk(&expected, holder);
          if (reply != expected) {
            answer(done, reply.starts_with("-") ? reply : std::string_view(":-1\r\n"));
            return;
          }
          std::vector<std::string_view> keys(victims.begin(), victims.end());
          evalPerSlot(budget_lua::kUnlinkEach, keys, {}, std::move(done));
        });
    return;
  }
  std::string raw;
  resp::arrayHeader(&raw, static_cast<int64_t>(args.size()));
  for (std::string_view a : args)
    resp::bulk(&raw, a);
  auto alive = alive_;
  worker_->upstreamClient().sendRaw(
      raw, [this, alive, done = std::move(done)](std::string_view reply) mutable {
        if (*alive)
          answer(done, reply);
      });
}

namespace {

// The per-key answers of one slot's EVAL, until every slot's are in.
struct PerSlot {
  size_t keys = 0;
  size_t left = 0;
  std::vector<std::string> answers;  // one RESP element per key, in key order
  std::string error;                 // the first part's error, if any
};

}  // namespace

void BudgetLink::evalPerSlot(std::string_view script, std::span<const std::string_view> keys,
                             std::span<const std::string_view> argv, Done done) {
  std::map<uint16_t, std::vector<size_t>> by_slot;
  for (size_t i = 0; i < keys.size(); ++i)
    by_slot[cluster::keySlot(keys[i])].push_back(i);
  auto state = std::make_shared<PerSlot>();
  state->keys = keys.size();
  state->left = by_slot.size();
  state->answers.resize(keys.size());
  auto shared_done = std::make_shared<Done>(std::move(done));
  auto alive = alive_;
  for (const auto& [slot, positions] : by_slot) {
    std::string raw;
    resp::arrayHeader(&raw, static_cast<int64_t>(3 + positions.size() + argv.size()));
    resp::bulk(&raw, "EVAL");
    resp::bulk(&raw, script);
    resp::bulk(&raw, std::to_string(positions.size()));
    for (size_t p : positions)
      resp::bulk(&raw, keys[p]);
    for (std::string_view a : argv)
      resp::bulk(&raw, a);
    worker_->upstreamClient().sendRaw(raw, [this, alive, state, shared_done,
                                            positions](std::string_view reply) {
      if (!*alive)
        return;
      std::vector<std::string_view> elements;
      if (!cluster::arrayElements(reply, static_cast<uint32_t>(positions.size()), &elements)) {
        if (state->error.empty())
          state->error = reply.starts_with("-") ? std::string(reply)
                                                : "-ERR unexpected reply to a budget script\r\n";
      } else {
        for (size_t k = 0; k < positions.size(); ++k)
          state->answers[positions[k]].assign(elements[k]);
      }
      if (--state->left > 0)
        return;
      if (!state->error.empty()) {
        answer(*shared_done, state->error);
        return;
      }
      std::string merged = cluster::respLine('*', static_cast<int64_t>(state->keys));
      for (const std::string& a : state->answers)
        merged += a;
      answer(*shared_done, merged);
    });
  }
}

}  // namespace kw

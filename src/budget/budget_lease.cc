#include "budget/budget_lease.h"

#include <algorithm>
#include <string_view>

#include "budget/budget_scripts.h"
#include "budget/resp_reply.h"
#include "common/log.h"

namespace kw {

BudgetLease::BudgetLease(BudgetRedis* redis, Clock clock, std::function<void()> on_acquired,
                         std::function<void()> on_lost)
    : redis_(redis), clock_(std::move(clock)), on_acquired_(std::move(on_acquired)),
      on_lost_(std::move(on_lost)) {}

const char* BudgetLease::roleName() const {
  switch (role_) {
  case Role::kOff:
    return "off";
  case Role::kStandby:
    return "standby";
  case Role::kHolder:
    return "holder";
  }
  return "?";
}

void BudgetLease::configure(Options options, bool on) {
  const bool changed = options.key != options_.key || options.value != options_.value ||
                       options.lease_ms != options_.lease_ms;
  if (role_ == Role::kHolder && (!on || changed)) {
    release();
    lose(on ? "lease settings changed" : "budgets switched off");
  }
  options_ = std::move(options);
  if (!on) {
    role_ = Role::kOff;
    ++epoch_;
    inflight_ = false;
    holder_.clear();
    ttl_ms_ = -1;
    return;
  }
  if (role_ == Role::kOff) {
    role_ = Role::kStandby;
    next_ms_ = clock_();
  }
}

void BudgetLease::tick() {
  const int64_t now = clock_();
  switch (role_) {
  case Role::kOff:
    return;
  case Role::kStandby:
    if (!inflight_ && now >= next_ms_)
      attempt();
    return;
  case Role::kHolder:
    if (now >= valid_until_ms_) {
      lose("not renewed in time");
      return;
    }
    if (!inflight_ && now >= next_ms_)
      renew();
    return;
  }
}

void BudgetLease::attempt() {
  inflight_ = true;
  const uint64_t epoch = epoch_;
  const int64_t sent = clock_();
  const std::string lease_ms = std::to_string(options_.lease_ms);
  const std::string_view set[] = {"SET", options_.key, options_.value, "NX", "PX", lease_ms};
  redis_->send(set, [this, epoch, sent](std::string_view reply) {
    if (epoch != epoch_)
      return;
    if (reply == "+OK\r\n")
      becomeHolder(sent);
  });
  const std::string_view get[] = {"GET", options_.key};
  redis_->send(get, [this, epoch](std::string_view reply) {
    if (epoch != epoch_ && role_ != Role::kHolder)
      return;
    RespReply r;
    if (r.parse(reply) && r.root().type == RespNode::Type::kBulk)
      holder_.assign(r.root().text);
    else if (r.root().type == RespNode::Type::kNull)
      holder_.clear();
  });
  const std::string_view pttl[] = {"PTTL", options_.key};
  redis_->send(pttl, [this, epoch](std::string_view reply) {
    if (epoch != epoch_)
      return;
    inflight_ = false;
    RespReply r;
    int64_t ttl = 0;
    const int64_t now = clock_();
    const int64_t poll = std::max<int64_t>(1, options_.lease_ms / 3);
    if (!r.parse(reply) || !respInteger(r.root(), &ttl)) {
      ttl_ms_ = -1;
      if (role_ == Role::kStandby)
        next_ms_ = now + std::min<int64_t>(poll, 100);  // an error: Redis is down or busy
      return;
    }
    ttl_ms_ = ttl;
    if (role_ != Role::kStandby)
      return;
    if (ttl == -2)
      next_ms_ = now;  // expired between the SET and now: try again at once
    else if (ttl < 0)
      next_ms_ = now + poll;  // someone set it without an expiry: keep asking
    else
      next_ms_ = now + std::clamp<int64_t>(ttl + 1, 1, poll);
  });
}

void BudgetLease::becomeHolder(int64_t sent_ms) {
  role_ = Role::kHolder;
  ++epoch_;
  inflight_ = false;
  valid_until_ms_ = sent_ms + options_.lease_ms;
  next_ms_ = sent_ms + options_.lease_ms / 3;
  holder_ = options_.value;
  ttl_ms_ = options_.lease_ms;
  ++acquisitions_;
  KW_LOG_INFO("memory budgets: this keywarden holds the lease %s and enforces the budgets",
              options_.key.c_str());
  if (on_acquired_)
    on_acquired_();
}

void BudgetLease::renew() {
  inflight_ = true;
  const uint64_t epoch = epoch_;
  const int64_t sent = clock_();
  const std::string lease_ms = std::to_string(options_.lease_ms);
  const std::string_view args[] = {"EVAL",       budget_lua::kRenew, "1",
                                   options_.key, options_.value,     lease_ms};
  redis_->send(args, [this, epoch, sent](std::string_view reply) {
    if (epoch != epoch_)
      return;
    inflight_ = false;
    RespReply r;
    int64_t v = -1;
    if (r.parse(reply) && respInteger(r.root(), &v) && v == 1) {
      valid_until_ms_ = sent + options_.lease_ms;
      next_ms_ = sent + options_.lease_ms / 3;
      ttl_ms_ = options_.lease_ms;
      return;
    }
    if (v == 0) {
      lose("the lease is held by another keywarden");
      return;
    }
    // An error (Redis down, busy): try again soon; the lease still runs until valid_until_ms_.
    next_ms_ = clock_() + std::min<int64_t>(100, options_.lease_ms / 10);
  });
}

void BudgetLease::release() {
  const std::string_view args[] = {"EVAL", budget_lua::kRelease, "1", options_.key, options_.value};
  redis_->send(args, nullptr);
}

void BudgetLease::fenced() {
  if (role_ == Role::kHolder)
    lose("an eviction found the lease held by another keywarden");
}

void BudgetLease::lose(const char* why) {
  if (role_ != Role::kHolder)
    return;
  role_ = Role::kStandby;
  ++epoch_;
  inflight_ = false;
  ++losses_;
  next_ms_ = clock_();
  KW_LOG_WARN("memory budgets: lease %s lost (%s); another keywarden may enforce now",
              options_.key.c_str(), why);
  if (on_lost_)
    on_lost_();
}

}  // namespace kw

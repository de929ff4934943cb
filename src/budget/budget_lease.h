// The lease that makes one keywarden at a time the enforcer of every memory budget: one key in
// Redis whose value names the holder.
//
//   standby --SET key me NX PX lease_ms: +OK--> holder
//   standby: nil -> GET/PTTL tell who holds it and when it expires; the next attempt is made
//            right after that (or in lease_ms / 3, whichever is first)
//   holder  --every lease_ms / 3: renew (a script: PEXPIRE only while the value is still mine)
//   holder  --renewal answers 0 (someone else holds it), or no renewal succeeded for lease_ms
//             since the last good one was sent--> standby
//
// A holder that dies stops renewing: its lease expires in Redis at most lease_ms after its last
// renewal, and a standby takes it at its next attempt, scheduled from the PTTL it read. Since a
// paused holder may still believe it holds the lease, evictions are fenced in Redis itself: the
// eviction script UNLINKs only while the lease key still holds the caller's value
// (budget_enforcer.cc).
//
// Runs on one loop; time is injected (tests drive it with a fake clock and a fake Redis).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "budget/budget_redis.h"

namespace kw {

class BudgetLease {
public:
  enum class Role : uint8_t { kOff, kStandby, kHolder };
  using Clock = std::function<int64_t()>;  // monotonic milliseconds

  struct Options {
    std::string key;
    std::string value;  // this keywarden's identity
    uint32_t lease_ms = 3000;
  };
  // on_acquired / on_lost run on the loop, from a reply or from tick().
  BudgetLease(BudgetRedis* redis, Clock clock, std::function<void()> on_acquired,
              std::function<void()> on_lost);
  BudgetLease(const BudgetLease&) = delete;
  BudgetLease& operator=(const BudgetLease&) = delete;

  // on = false: off (a holder gives the lease up first).
  void configure(Options options, bool on);
  void tick();
  // The holder learnt it is not (the fenced eviction script said so).
  void fenced();

  Role role() const { return role_; }
  const char* roleName() const;
  const std::string& holder() const { return holder_; }  // as last read from Redis
  int64_t ttlMs() const { return ttl_ms_; }              // as last read (-1: unknown)
  const Options& options() const { return options_; }
  uint64_t acquisitions() const { return acquisitions_; }
  uint64_t losses() const { return losses_; }

private:
  void attempt();
  void renew();
  void release();
  void becomeHolder(int64_t sent_ms);
  void lose(const char* why);

  BudgetRedis* redis_;
  Clock clock_;
  std::function<void()> on_acquired_;
  std::function<void()> on_lost_;
  Options options_;
  Role role_ = Role::kOff;
  bool inflight_ = false;
  uint64_t epoch_ = 0;          // replies of an earlier role are ignored
  int64_t next_ms_ = 0;         // next attempt (standby) or renewal (holder)
  int64_t valid_until_ms_ = 0;  // holder: last good renewal's send time + lease_ms
  std::string holder_;
  int64_t ttl_ms_ = -1;
  uint64_t acquisitions_ = 0;
  uint64_t losses_ = 0;
};

}  // namespace kw

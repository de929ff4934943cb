#include "sentinel/master_choice.h"

#include "common/config_loader.h"
#include "sentinel/sentinel_replies.h"

namespace kw::sentinel {

bool sameAddress(const HostPort& a, const HostPort& b) {
  return a.port == b.port && a.host == b.host;
}

MasterChoice::Outcome MasterChoice::adopt(const HostPort& to, uint64_t now_ms) {
  if (known_ && sameAddress(master_, to))
    return Outcome::kSame;
  if (known_) {
    previous_ = master_;
    ++failovers_;
  }
  master_ = to;
  known_ = true;
  changed_ms_ = now_ms;
  return Outcome::kChanged;
}

MasterChoice::Outcome MasterChoice::onLookup(const std::vector<HostPort>& answers,
                                             uint64_t now_ms) {
  if (answers.empty())
    return Outcome::kNone;
  const bool recent = known_ && !previous_.host.empty() && now_ms - changed_ms_ < kSwitchTrustMs;
  auto stale = [&](const HostPort& a) { return recent && sameAddress(a, previous_); };
  bool all_stale = true;
  for (const HostPort& a : answers)
    if (!stale(a))
      all_stale = false;
  // The address most answers name; ties go to the one named first.
  size_t best = answers.size();
  size_t best_votes = 0;
  for (size_t i = 0; i < answers.size(); ++i) {
    if (!all_stale && stale(answers[i]))
      continue;
    size_t votes = 0;
    for (const HostPort& a : answers)
      if (sameAddress(a, answers[i]))
        ++votes;
    if (votes > best_votes) {
      best = i;
      best_votes = votes;
    }
  }
  if (best == answers.size())
    return Outcome::kNone;
  return adopt(answers[best], now_ms);
}

MasterChoice::Outcome MasterChoice::onSwitch(const HostPort& /*from*/, const HostPort& to,
                                             uint64_t now_ms) {
  return adopt(to, now_ms);
}

bool roleIsMaster(std::string_view reply, std::string* why) {
  const RoleReply r = parseRoleReply(reply);
  switch (r.role) {
  case RoleReply::Role::kMaster:
    return true;
  case RoleReply::Role::kReplica:
    *why = "ROLE says replica of " + formatHostPort(r.master) + " (link " + std::string(r.state) +
           "), not the master";
    return false;
  case RoleReply::Role::kSentinel:
    *why = "ROLE says sentinel, not the master";
    return false;
  case RoleReply::Role::kError:
    *why = "ROLE refused: " + std::string(r.error.substr(0, 200)) +
           " (the upstream user needs the ROLE command)";
    return false;
  case RoleReply::Role::kMalformed:
    break;
  }
  *why = "ROLE: malformed reply";
  return false;
}

}  // namespace kw::sentinel

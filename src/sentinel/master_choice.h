// Which address keywarden treats as the master, from what the sentinels say. Pure: the source
// (sentinel_source.h) feeds it the answers it got and the +switch-master messages it read, with
// the time, and publishes a new topology when the outcome is kChanged.
//
//   input                                           outcome
//   a lookup: every answering sentinel's address    the address most of them name (ties: the
//                                                   first answer); an address that was the master
//                                                   before the last change (within
//                                                   kSwitchTrustMs) is a sentinel that has not
//                                                   heard of it yet: left out unless every answer
//                                                   names it
//     ... that is the current master               kSame
//     ... another one                               kChanged (a failover whose +switch-master was
//                                                   missed, or the first answer at startup)
//     no answer                                     kNone (nothing changes)
//   +switch-master / +promoted-slave <from> -> <to> kSame when `to` is the master already, else
//                                                   kChanged: both are published only once the
//                                                   new master reports itself master, so they
//                                                   are followed at once
//
// Every kChanged after the first master counts as a failover seen.
//
// ROLE on a new link (roleIsMaster): only "master" passes; a replica, a sentinel, an error
// (NOPERM: the upstream user needs +role) or a malformed reply fail with the reason.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"

namespace kw::sentinel {

class MasterChoice {
public:
  enum class Outcome : uint8_t { kSame, kChanged, kNone };

  Outcome onLookup(const std::vector<HostPort>& answers, uint64_t now_ms);
  Outcome onSwitch(const HostPort& from, const HostPort& to, uint64_t now_ms);

  bool known() const { return known_; }
  const HostPort& master() const { return master_; }
  // The master before the last change (empty host when none).
  const HostPort& previous() const { return previous_; }
  uint64_t failovers() const { return failovers_; }

  static constexpr uint64_t kSwitchTrustMs = 60000;

private:
  Outcome adopt(const HostPort& to, uint64_t now_ms);

  bool known_ = false;
  HostPort master_;
  HostPort previous_;
  uint64_t changed_ms_ = 0;
  uint64_t failovers_ = 0;
};

bool sameAddress(const HostPort& a, const HostPort& b);

// The reply to ROLE on a new data link: true for a master, else false with *why.
bool roleIsMaster(std::string_view reply, std::string* why);

}  // namespace kw::sentinel

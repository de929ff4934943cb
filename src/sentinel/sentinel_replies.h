// The replies keywarden reads when its upstream is a Sentinel-managed master: the master's address
// from a sentinel, the +switch-master announcements on every sentinel's Pub/Sub, and the ROLE and
// -READONLY answers of the data node a connection reached. Pure: no sockets, no loop.
//
// Each function takes one complete frame as the ReplyScanner framed it. The bytes come from the
// network, so every length is checked, nothing throws, and a shape not in the tables below is
// kMalformed, never half-parsed. Text fields may be bulk ($) or simple (+) strings, numbers
// integers (:) or their text; RESP2 and RESP3 forms are the same unless shown.
//
//   SENTINEL GET-MASTER-ADDR-BY-NAME <name>      parseMasterAddrReply
//   *2 $<host> $<port>                           kFound: addr (port 1..65535, host printable)
//   *-1 (RESP2), _ (RESP3)                       kUnknown: this sentinel does not monitor <name>
//   -<text> (RESP3 also !<len> <text>)           kError: error (-NOAUTH, -ERR ...): ask the next
//   anything else                                kMalformed
//
//   a frame on a sentinel subscribed to +switch-master       parseSwitchMaster(frame, name)
//   *3 $message $+switch-master $<payload>, or >3 (RESP3 push) with the same elements, payload
//   "<master name> <old ip> <old port> <new ip> <new port>":
//     <master name> is `name`                    kSwitch: from, to
//     another master of the same sentinels       kOtherMaster
//     payload without that shape                 kMalformed
//   subscribe confirmations, other channels, pmessage, replies   kNotSwitch
//   The name is what precedes the last four fields, so a name with spaces still matches.
//
//   a frame on a sentinel subscribed to +promoted-slave      parsePromotedReplica(frame, name)
//   the same message shape on +promoted-slave, payload
//   "slave <ip>:<port> <ip> <port> @ <master name> <master ip> <master port>" (the failover
//   leader's, once the chosen replica reports itself master, before the other replicas are
//   reconfigured and +switch-master is published):
//     <master name> is `name`                    kSwitch: from (the master), to (the replica)
//     another master's                           kOtherMaster
//     payload without that shape                 kMalformed
//   anything else                                kNotSwitch
//
//   ROLE (on every new data connection)          parseRoleReply
//   *3 $master :<offset> *<n> [ip port offset]   kMaster
//   *5 $slave $<ip> :<port> $<state> :<offset>   kReplica: master (where it replicates from) and
//                                                state ("connect", "sync", "connected", ...)
//   *2 $sentinel *<n> [names]                    kSentinel
//   -<text>                                      kError: error
//   anything else                                kMalformed
//   Only the fields named are read: a later Redis that appends fields still parses, and a master's
//   replica list is not looked at. "replica" is taken for "slave".
//
//   any reply                                    isReadonlyError
//   -READONLY ...                                a write reached a replica
//   -EXECABORT ...: READONLY ...                 Redis 7 refused EXEC for queued writes on a node
//                                                that became a replica meanwhile
//   !<len> READONLY ... (RESP3 blob error)       either, in a blob
//   anything else, including an EXEC array holding a READONLY element: false (Redis never queues
//   a write on a replica, so such an element cannot come from a master that moved)
#pragma once

#include <cstdint>
#include <string_view>

#include "common/config.h"

namespace kw {

struct MasterAddrReply {
  enum class Kind : uint8_t { kFound, kUnknown, kError, kMalformed };
  Kind kind = Kind::kMalformed;
  HostPort addr;           // kFound
  std::string_view error;  // kError: the text after '-' (a view into the frame)
};

MasterAddrReply parseMasterAddrReply(std::string_view frame);

struct SwitchMaster {
  enum class Kind : uint8_t { kSwitch, kOtherMaster, kNotSwitch, kMalformed };
  Kind kind = Kind::kNotSwitch;
  HostPort from;  // kSwitch
  HostPort to;    // kSwitch
};

inline constexpr std::string_view kSwitchMasterChannel = "+switch-master";

SwitchMaster parseSwitchMaster(std::string_view frame, std::string_view master_name);

inline constexpr std::string_view kPromotedReplicaChannel = "+promoted-slave";

SwitchMaster parsePromotedReplica(std::string_view frame, std::string_view master_name);

struct RoleReply {
  enum class Role : uint8_t { kMaster, kReplica, kSentinel, kError, kMalformed };
  Role role = Role::kMalformed;
  HostPort master;         // kReplica: the node it replicates from
  std::string_view state;  // kReplica: its link state
  std::string_view error;  // kError
};

RoleReply parseRoleReply(std::string_view frame);

bool isReadonlyError(std::string_view frame);

}  // namespace kw

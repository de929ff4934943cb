// Commands that act on the whole keyspace, and so on every master of a cluster, and how their
// replies become the one reply a client of a single Redis expects.
//
//   command                               merge          the client gets
//   DBSIZE                                kSum           the sum
//   KEYS pattern                          kConcat        every master's keys, master by master
//   FLUSHALL, FLUSHDB, SCRIPT FLUSH,      kAllOk         +OK when every master said +OK
//   FUNCTION FLUSH / DELETE / RESTORE,
//   CONFIG SET, CONFIG RESETSTAT,
//   ACL SETUSER
//   SCRIPT LOAD, FUNCTION LOAD,           kSame          the reply, when every master gave it
//   ACL DELUSER
//   SCRIPT EXISTS sha...                  kAllOf         1 for a script every master has
//   SCRIPT KILL, FUNCTION KILL            kAnyOk         +OK when some master was running one
//                                                        (it stopped); else the first error
//                                                        (NOTBUSY)
//   RANDOMKEY                             kAnyValue      a key from some master (the first, in
//                                                        an order the caller varies), nil if none
//   INFO [keyspace|all|default|...]       kInfo          the first master's text with its
//                                                        # Keyspace section summed over masters
//
// A master that failed or answered an error (kAnyOk aside) makes the whole reply one error
// naming that master; for the flushes it adds that other masters may have been flushed.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "cluster/split_plan.h"
#include "proxy/command_table.h"

namespace kw::cluster {

enum class FanOutMerge : uint8_t { kSum, kConcat, kAllOk, kSame, kAllOf, kAnyOk, kAnyValue, kInfo };

struct FanOut {
  FanOutMerge merge;
  bool writes;          // a failed master may leave the others changed
  std::string command;  // upper case, with its subcommand: for error texts
};

// Whether `args` is a command that goes to every master, and how it merges; nullopt otherwise.
std::optional<FanOut> fanOutOf(const CommandInfo* cmd, std::span<const std::string_view> args);

// One outcome per master, in the order they were asked (PartOutcome: a reply, or why none).
std::string mergeFanOut(const FanOut& fan, std::span<const PartOutcome> outcomes,
                        const std::function<std::string(size_t part)>& node_name);

// An INFO text with its "# Keyspace" section's keys/expires summed per db over `texts`'
// sections (avg_ttl: the first's). The text is the bulk's content, not the RESP frame.
std::string sumKeyspace(std::string_view first, std::span<const std::string_view> all);

}  // namespace kw::cluster

// Where one command goes, whatever the upstream is: the answer for keywarden's own requests
// (UpstreamClient, the budget enforcer's link), which need the same rules as a client's without a
// session's transaction and stream state.
//
//   upstream     command                                     route
//   standalone   anything                                    kOne: the one Redis
//   cluster      keys in one slot (or a shard channel)       kOne: the slot's master, slot-local
//                no keys                                     kOne: the node keyless requests go to
//                SCAN                                        kParts: one part, on the master the
//                                                            cursor names; the reply's cursor is
//                                                            translated (scan_cursor.h)
//                DBSIZE, KEYS, FLUSH*, SCRIPT/FUNCTION       kParts: every master, merged
//                LOAD..., CONFIG SET, INFO keyspace          (fan_out.h)
//                MGET MSET DEL UNLINK EXISTS TOUCH over      kParts: one per slot, merged
//                several slots                               (split_plan.h)
//                other commands over several slots, a        kError: Redis Cluster's error
//                slot no master serves, a bad SCAN cursor
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/split_plan.h"
#include "proxy/command_table.h"
#include "proxy/router.h"

namespace kw {

class Topology;

struct RoutedPart {
  NodeId node;
  uint16_t hash_slot;  // 0xffff: not slot-local
  std::string request;
};

struct CommandRoute {
  enum class Kind : uint8_t { kOne, kParts, kError };
  Kind kind = Kind::kOne;
  Destination dest;                                                         // kOne
  std::vector<RoutedPart> parts;                                            // kParts
  std::function<std::string(std::span<const cluster::PartOutcome>)> merge;  // kParts
  std::string error;  // kError: the complete error reply
};

// `node_for_slot` answers with the worker's current map (its MOVED overrides included); `epoch`
// is the worker's routing epoch.
CommandRoute routeCommand(const Topology& topology,
                          const std::function<NodeId(uint16_t)>& node_for_slot, uint64_t epoch,
                          const CommandInfo* cmd, std::span<const std::string_view> args,
                          std::string_view raw);

// SCAN on one master of a cluster: the part to send and the merge that translates the cursor.
// False with *error (the complete reply) for a cursor that is not a walk's.
bool routeClusterScan(const Topology& topology, std::span<const std::string_view> args,
                      CommandRoute* route);

// The request `args` as RESP.
std::string encodeRequest(std::span<const std::string_view> args);

}  // namespace kw

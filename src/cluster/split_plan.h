// Where a command goes in a cluster, decided from its arguments (key positions from the command
// table) and the slot -> master function of the current map; and, for a command split over
// several slots, how the parts' replies become the one reply the client expects.
//
//   command                                         PlanKind     what the caller does
//   no keys (PING, INFO, SCAN, unknown command...)  kNoKeys      its own rule (any node, every
//                                                                master, answered locally)
//   every key in one slot                           kOneSlot     send the command as it is to
//                                                                the master of `slot`
//   MGET MSET DEL UNLINK EXISTS TOUCH, keys in      kSplit       send each part (one per slot, in
//   several slots                                                order of first key) to its node,
//                                                                then mergeReplies()
//   any other command, keys in several slots        kError       answer `error` (Redis's own
//   (MSETNX, RENAME, SINTERSTORE, EVAL, FCALL...)                -CROSSSLOT text)
//   a key's slot has no master (kSplit only)        kError       -CLUSTERDOWN Hash slot not served
//   MSET with a key but no value                    kError       Redis's arity error
//
// Why one part per slot and not per node: a node refuses a multi-key command whose keys are in
// different slots even when it serves them all (-CROSSSLOT), so two slots of one node are two
// parts (pipelined to the same node). Keys keep their request order within a part, so a repeated
// key stays in one part: EXISTS k k counts k twice, DEL k k deletes it once, MSET k 1 k 2 sets 2.
//
// Merging (mergeReplies), whatever the protocol (elements are copied as the nodes sent them, so
// RESP2 $-1 and RESP3 _ nulls survive):
//   MGET                  one array, each value at the position of its key in the request
//   MSET                  +OK
//   DEL UNLINK EXISTS     the sum of the parts' integers
//   TOUCH
// A part that failed (no reply: the caller gives its cause) or answered an error makes the whole
// reply one error naming the node; for DEL, UNLINK and MSET it adds that some keys may have been
// changed, since other parts may have run. Never a partial array or a silent nil.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/command_table.h"

namespace kw::cluster {

enum class PlanKind : uint8_t { kNoKeys, kOneSlot, kSplit, kError };
enum class MergeKind : uint8_t { kNone, kValues, kOk, kSum };

// One sub-command: the keys of one slot, as a complete RESP request.
struct SplitPart {
  uint16_t slot = 0;
  uint16_t node = 0;  // what the slot function answered for `slot`
  uint32_t keys = 0;  // keys in this part (MGET: elements of its reply)
  std::string request;
};

struct SplitPlan {
  PlanKind kind = PlanKind::kNoKeys;
  uint16_t slot = 0;  // kOneSlot
  std::string error;  // kError: the complete error reply ("-CROSSSLOT ...\r\n")
  // kSplit:
  MergeKind merge = MergeKind::kNone;
  bool writes = false;  // DEL, UNLINK, MSET: a failed part may leave other parts' changes
  std::string command;  // upper case, for error texts
  std::vector<SplitPart> parts;
  // MGET: for each key in request order, its part and its index within that part's reply.
  struct Position {
    uint32_t part;
    uint32_t index;
  };
  std::vector<Position> positions;
};

// The master serving a slot, or SlotMap::kNoNode.
using SlotToNode = std::function<uint16_t(uint16_t slot)>;

// `args[0]` is the command name as the client sent it; `cmd` its row (nullptr when unknown).
SplitPlan planCommand(const CommandInfo* cmd, std::span<const std::string_view> args,
                      const SlotToNode& node_of_slot);

inline constexpr std::string_view kCrossSlotError =
    "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
inline constexpr std::string_view kSlotNotServedError = "-CLUSTERDOWN Hash slot not served\r\n";

// What came back for one part: its complete reply, or (reply empty) why there is none
// ("connection lost", "timed out").
struct PartOutcome {
  std::string_view reply;
  std::string_view failure;
};

// The client's reply for a kSplit plan, from one outcome per part (in plan.parts order).
// `node_name` names a node in error texts ("10.0.0.5:6379").
std::string mergeReplies(const SplitPlan& plan, std::span<const PartOutcome> outcomes,
                         const std::function<std::string(uint16_t node)>& node_name);

}  // namespace kw::cluster

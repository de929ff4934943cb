// The SCAN cursor a client sees when keywarden walks every master of a cluster: which master (its
// place in SlotMap::masters()) and that master's own cursor, packed into one unsigned 64-bit
// decimal, the form every client parses (strings or uint64).
//
//   bits, high to low:  [ node cursor ][ check: 12 bits ][ master index: I bits ]
//   I = the bits needed to count the masters (at least 1), so the node cursor keeps 64-12-I bits
//   (Redis's cursors are bounded by its table sizes: 2^48 buckets would be petabytes).
//   check = 12 bits of a hash of (master count, index, that master's node id).
//
//   cursor / event                         meaning
//   "0" from the client                    start: master 0, node cursor 0
//   master i answered node cursor c != 0   client gets (i, c)
//   master i answered 0, i not the last    client gets (i+1, 0): never "0", the index is not 0
//   the last master answered 0             client gets "0": the walk is over
//   not a decimal, index out of range,     -ERR invalid cursor (Redis's answer): the cursor
//   check mismatch                         belongs to another topology (failover, reshard) or
//                                          to nobody; a stale one passes with odds 1/4096
//   node cursor that does not fit          encode fails: the caller answers an error
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/slot_map.h"

namespace kw::cluster {

inline constexpr std::string_view kInvalidCursorError = "-ERR invalid cursor\r\n";

struct ScanPosition {
  uint16_t master = 0;       // index into SlotMap::masters()
  uint64_t node_cursor = 0;  // the cursor to send to that master
};

class ScanCursorCodec {
public:
  // The masters' node ids, in SlotMap::masters() order.
  explicit ScanCursorCodec(std::vector<std::string> master_ids);
  static ScanCursorCodec forMap(const SlotMap& map);

  size_t masterCount() const { return ids_.size(); }

  // The position a client cursor stands for; nullopt for an invalid or stale cursor (and for
  // any cursor when there are no masters).
  std::optional<ScanPosition> decode(std::string_view cursor) const;

  // The client's next cursor after master `master` answered `node_next`; "0" only when the last
  // master answered 0. nullopt when `node_next` does not fit beside the index and check.
  std::optional<std::string> next(uint16_t master, uint64_t node_next) const;

private:
  uint32_t check(uint16_t master) const;

  std::vector<std::string> ids_;
  unsigned index_bits_ = 1;
};

}  // namespace kw::cluster

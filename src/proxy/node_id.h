// Names of upstream nodes, shared by the router, the pools and the topology (topology.h).
#pragma once

#include <cstdint>

namespace kw {

// Index into one topology's nodes; a later snapshot keeps the id of every node it still has.
using NodeId = uint16_t;
inline constexpr NodeId kNoNode = 0xffff;
// Whichever node keyless requests go to (the one Redis; a cluster's chosen master), resolved by
// the pools against the worker's current topology.
inline constexpr NodeId kAnyNode = 0xfffe;

}  // namespace kw

// The error replies by which a cluster node says "not here" or "not now", recognised from the
// reply bytes (the node's own texts, Redis 7):
//
//   reply                                          kind          what the caller does
//   -MOVED 3999 127.0.0.1:6381                     kMoved        resend to that node; refresh map
//   -MOVED 3999 2001:db8::1:6381 (IPv6, no [])     kMoved        host is everything before the
//   -MOVED 3999 [2001:db8::1]:6381                               last ':'; brackets are removed
//   -MOVED 3999 node-a.example.com:6381            kMoved        a host name (to resolve)
//   -MOVED 3999 :6381                              kMoved        endpoint kSameAsSeed: the host
//                                                                the map was read from
//   -MOVED 3999 ?:6381                             kMoved        endpoint kUnknown: refresh first
//   -ASK 3999 127.0.0.1:6381                       kAsk          ASKING, then the command, there
//   -TRYAGAIN Multiple keys request during ...     kTryAgain     retry after a backoff
//   -CLUSTERDOWN Hash slot not served              kClusterDown  refresh the map
//   -CROSSSLOT Keys in request don't hash ...      kCrossSlot    give it to the client as is
//   anything else (another error, not an error)    kNone         the reply is the answer
//
// A MOVED/ASK whose slot or address does not parse is kNone with malformed = true: it must not be
// followed, and the caller answers it to the client as the node sent it.
#pragma once

#include <cstdint>
#include <string_view>

#include "cluster/slot_map.h"

namespace kw::cluster {

enum class ClusterError : uint8_t { kNone, kMoved, kAsk, kTryAgain, kClusterDown, kCrossSlot };

struct Redirect {
  ClusterError kind = ClusterError::kNone;
  bool malformed = false;                  // a MOVED/ASK that could not be read
  uint16_t slot = 0;                       // MOVED, ASK
  Endpoint endpoint = Endpoint::kAddress;  // MOVED, ASK
  std::string_view host;                   // MOVED, ASK with kAddress: a view into the reply
  uint16_t port = 0;                       // MOVED, ASK
};

// `reply` starts with one complete reply (simple '-' or RESP3 blob '!' error); only its first
// line is read.
Redirect parseClusterError(std::string_view reply);

const char* clusterErrorName(ClusterError kind);

}  // namespace kw::cluster

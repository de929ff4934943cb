// What a session needs only while it dispatches one request: the decoded request, the policy
// gates' scratch, a rewritten request and its follow-ups. Dispatch runs one request of one session
// at a time on a worker and never waits, so the worker keeps one of these for all its sessions:
// an idle client holds none of it (and the steady state still allocates nothing, the vectors and
// strings keeping their capacity here).
#pragma once

#include <cstdint>
#include <string>

#include "policy/access_check.h"
#include "policy/ttl_policy.h"
#include "proxy/request_decoder.h"

namespace kw {

struct DispatchScratch {
  DecodedRequest decoded;  // the request being dispatched
  PolicyScratch access;    // keys and namespaces the access gate resolved
  TtlScratch ttl;
  std::string rewrite_buf;   // the request as the TTL gate rewrote it
  DecodedRequest rewritten;  // views into rewrite_buf
  std::string followups;     // EXPIRE ... NX commands to send right after the current request
  uint32_t followup_count = 0;
  std::string stage_cause;  // why a request stage's forward found no link
};

}  // namespace kw

// Where rate limiting meets the request path (the Session member functions are defined in
// ratelimit_gate.cc; everything else is in src/ratelimit/). Four hooks, each one line in
// session.cc / admin_commands.cc:
//
//   Session::dispatch    gateRateLimit(req, cmd) right after gateAccess: the protective limits
//                        (per client address, per user, per namespace), refused with
//                        -RATELIMITED ... in the command's own slot.
//   Session::route       CL.THROTTLE -> routeThrottle(req, *cmd): rewritten to FCALL / EVALSHA
//                        (EVAL inside MULTI) and forwarded with SlotEffect::kThrottle, or
//                        answered from the local fallback when no upstream connection can take it.
//   Session::complete    SlotEffect::kThrottle -> throttleReply(): integers carried as bulk
//                        strings become integers again; "function not found" / NOSCRIPT / no FCALL
//                        reload the code and send the call again on the same connection (the slot
//                        stays in flight); -UPSTREAMDOWN becomes the local fallback's answer.
//   KEYWARDEN RATELIMIT  cmdKeywardenRateLimit(): a limiter's state, without consuming.
#pragma once

#include <memory>
#include <string>

#include "proxy/request_decoder.h"
#include "ratelimit/protective_limits.h"

namespace kw {

struct CompiledUser;

// What a session keeps for rate limiting between requests.
struct RateLimitSessionState {
  std::shared_ptr<const ProtectiveLimits> limits;  // bound for the configuration seen last
  const CompiledUser* user = nullptr;              // whose limiter user_limiter is
  const BoundLimiter* user_limiter = nullptr;
  std::shared_ptr<GcraCell> client_cell;  // this client's address, when clients are limited
  std::string call;                       // the CL.THROTTLE being rewritten
  DecodedRequest call_request;            // a view of `call`, for Session::forward
};

}  // namespace kw

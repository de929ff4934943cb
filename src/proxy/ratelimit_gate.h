// Where rate limiting meets the request path (the Session member functions are defined in
// ratelimit_gate.cc; everything else is in src/ratelimit/):
//
//   Session::dispatch    gateRateLimit(req, cmd) right after gateAccess: the protective limits
//                        (per client address, per user, per namespace), refused with
//                        -RATELIMITED ... in the command's own slot.
//   request stage        CL.THROTTLE is src/ratelimit/throttle_stage.h (FCALL / EVALSHA, code
//                        reloads, the local fallback).
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
};

}  // namespace kw

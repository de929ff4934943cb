// CL.THROTTLE on the request path, as a request stage (src/proxy/request_stage.h):
//
//   CL.THROTTLE key burst count period [qty]
//     -> FCALL keywarden_throttle_v1 / EVALSHA (EVAL inside MULTI), in the request's place
//     -> reply: integers carried as bulk strings become integers again;
//        "function not found" / NOSCRIPT / no FCALL: the code is loaded and the same call sent
//        again (the slot keeps its place in the client's reply order);
//        -UPSTREAMDOWN, or no upstream at all: the namespace's rate_limit_fallback answers
//        (local GCRA, allow or deny).
// Per worker; the fallback table and counters are the process-wide RateLimitRuntime.
#pragma once

#include <string>

#include "proxy/request_stage.h"

namespace kw {

class Worker;
class RateLimitRuntime;

class ThrottleStage final : public RequestStage {
public:
  ThrottleStage(Worker* worker, RateLimitRuntime* runtime) : worker_(worker), rt_(runtime) {}
  Verdict onRequest(StageRequest& req) override;
  std::string_view onReply(uint64_t tag, ReplySlot* slot, std::string_view reply,
                           std::string* scratch, bool* kept) override;

private:
  static constexpr uint64_t kQueued = 1;  // inside MULTI: the EVAL is only queued
  Worker* worker_;
  RateLimitRuntime* rt_;
  std::string call_;  // the call being built (reused)
};

}  // namespace kw

// The protective rate limits on the request path: a feature gate (request_stage.h) that runs right
// after the access check. Each command (but connection and transaction control: EXEC must always
// end a MULTI) takes one request from its client address's limiter, its user's, and each
// namespace its keys touch (once per namespace); a refusal gives back what the earlier limiters
// of the same command took and answers -RATELIMITED <user|namespace|client> ... in the command's
// slot. With no limit configured it costs one branch.
#pragma once

#include <memory>

#include "proxy/request_stage.h"
#include "ratelimit/protective_limits.h"

namespace kw {

class RateLimitRuntime;
class Worker;
struct CompiledUser;

// What a client keeps between requests: the limiters bound for the configuration it saw last.
struct RateLimitSessionState final : StageAttachment {
  std::shared_ptr<const ProtectiveLimits> limits;  // bound for the configuration seen last
  const CompiledUser* user = nullptr;              // whose limiter user_limiter is
  const BoundLimiter* user_limiter = nullptr;
  std::shared_ptr<GcraCell> client_cell;  // this client's address, when clients are limited
};

class ProtectiveGate final : public RequestStage {
public:
  ProtectiveGate(Worker* worker, RateLimitRuntime* runtime) : worker_(worker), rt_(runtime) {}
  Verdict onRequest(StageRequest& req) override;
  std::string_view onReply(uint64_t, ReplySlot*, std::string_view reply, std::string*,
                           bool*) override {
    return reply;  // a gate never forwards
  }

private:
  Worker* worker_;
  RateLimitRuntime* rt_;
};

}  // namespace kw

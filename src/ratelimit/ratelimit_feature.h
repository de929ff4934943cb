// Rate limiting as a feature (proxy/feature.h): CL.THROTTLE's request stage (throttle_stage.h),
// the protective limits' gate (protective_gate.h), KEYWARDEN RATELIMIT and the rate limiters'
// metric families. It owns what its workers share (RateLimitRuntime).
#pragma once

#include "proxy/feature.h"
#include "ratelimit/ratelimit_runtime.h"

namespace kw {

class RateLimitFeature final : public Feature {
public:
  std::string_view name() const override { return "ratelimit"; }
  void startWorker(Worker& worker) override;
  bool keywarden(std::string_view sub, AdminRequest& req) override;
  void keywardenHelp(std::vector<std::string>* lines) const override;
  void appendMetrics(const std::vector<std::string>& ns_labels,
                     std::vector<prometheus::MetricFamily>* out) const override;

  RateLimitRuntime& runtime() { return runtime_; }

private:
  void keywardenRateLimit(AdminRequest& req);

  // The scrape reads its counters while workers write them: relaxed atomics and mutexes inside.
  mutable RateLimitRuntime runtime_;
};

}  // namespace kw

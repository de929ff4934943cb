// The circuit breaker of one PostgreSQL source. Closed: queries go through. After
// `failures_to_open` consecutive failures (connect failures, lost connections, timeouts) it opens:
// misses are answered at once with the last cause instead of waiting for a timeout. While open,
// one background probe is allowed every `probe_interval_ms` (half-open while it runs); a success
// closes it, a failure keeps it open. Pure logic with the time passed in, so tests drive it with
// their own clock; ReadThroughHub wraps it in a mutex (it is per process, not per worker).
#pragma once

#include <cstdint>
#include <string>

namespace kw::pg {

class CircuitBreaker {
public:
  enum class State : uint8_t { kClosed, kOpen, kHalfOpen };

  CircuitBreaker(uint32_t failures_to_open, uint64_t probe_interval_ms)
      : failures_to_open_(failures_to_open == 0 ? 1 : failures_to_open),
        probe_interval_ms_(probe_interval_ms) {}

  // May a query be sent now? When false, fail the miss with cause().
  bool allowQuery() const { return state_ == State::kClosed; }
  // True (once per interval) when the caller should probe the source now; the breaker is then
  // half-open until onSuccess or onFailure. A probe that never reports (its worker stopped) is
  // given up after kProbeGiveUpMs and another one is allowed.
  bool takeProbe(uint64_t now_ms);
  void onSuccess();
  void onFailure(uint64_t now_ms, std::string cause);

  State state() const { return state_; }
  const std::string& cause() const { return cause_; }
  uint32_t consecutiveFailures() const { return failures_; }
  uint64_t opened() const { return opened_; }  // times it went from closed to open

  static const char* stateName(State s);
  static constexpr uint64_t kProbeGiveUpMs = 30000;

private:
  const uint32_t failures_to_open_;
  const uint64_t probe_interval_ms_;
  State state_ = State::kClosed;
  uint32_t failures_ = 0;
  uint64_t next_probe_ms_ = 0;
  uint64_t probe_started_ms_ = 0;
  uint64_t opened_ = 0;
  std::string cause_;
};

}  // namespace kw::pg

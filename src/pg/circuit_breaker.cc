#include "pg/circuit_breaker.h"

namespace kw::pg {

bool CircuitBreaker::takeProbe(uint64_t now_ms) {
  if (state_ == State::kOpen && now_ms >= next_probe_ms_) {
    state_ = State::kHalfOpen;
    probe_started_ms_ = now_ms;
    return true;
  }
  if (state_ == State::kHalfOpen && now_ms >= probe_started_ms_ + kProbeGiveUpMs) {
    probe_started_ms_ = now_ms;
    return true;
  }
  return false;
}

void CircuitBreaker::onSuccess() {
  failures_ = 0;
  state_ = State::kClosed;
}

void CircuitBreaker::onFailure(uint64_t now_ms, std::string cause) {
  cause_ = std::move(cause);
  if (failures_ < UINT32_MAX)
    ++failures_;
  if (state_ == State::kClosed && failures_ < failures_to_open_)
    return;
  if (state_ == State::kClosed)
    ++opened_;
  state_ = State::kOpen;
  next_probe_ms_ = now_ms + probe_interval_ms_;
}

const char* CircuitBreaker::stateName(State s) {
  switch (s) {
  case State::kClosed:
    return "closed";
  case State::kOpen:
    return "open";
  case State::kHalfOpen:
    return "half-open";
  }
  return "?";
}

}  // namespace kw::pg

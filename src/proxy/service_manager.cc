#include "proxy/service_manager.h"

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "common/sd_notify.h"

namespace kw {
namespace {

constexpr uint64_t kReadyPollMs = 50;
constexpr uint64_t kMinHeartbeatAgeMs = 2500;  // workers stamp once a second
constexpr uint64_t kMinPingMs = 100;

uint64_t nowMs() {
  return uv_hrtime() / 1000000;
}

// STATUS= is one line.
std::string oneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

}  // namespace

bool allListening(const std::vector<uint64_t>& heartbeats) {
  return !heartbeats.empty() &&
         std::all_of(heartbeats.begin(), heartbeats.end(), [](uint64_t h) { return h != 0; });
}

bool allFresh(const std::vector<uint64_t>& heartbeats, uint64_t now_ms, uint64_t max_age_ms) {
  return allListening(heartbeats) &&
         std::all_of(heartbeats.begin(), heartbeats.end(),
                     [&](uint64_t h) { return h > now_ms || now_ms - h < max_age_ms; });
}

WatchdogTiming watchdogTiming(uint64_t watchdog_usec) {
  WatchdogTiming t;
  if (watchdog_usec == 0)
    return t;
  const uint64_t interval_ms = watchdog_usec / 1000;
  t.ping_ms = std::max(interval_ms / 3, kMinPingMs);
  t.max_age_ms = std::max(interval_ms / 2, kMinHeartbeatAgeMs);
  return t;
}

ServiceManagerLink::ServiceManagerLink(uv_loop_t* loop, Heartbeats heartbeats)
    : loop_(loop), heartbeats_(std::move(heartbeats)), enabled_(sdNotifyEnabled()),
      watchdog_(watchdogTiming(sdWatchdogUsec())) {}

void ServiceManagerLink::start(std::string status) {
  if (!enabled_)
    return;
  status_ = oneLine(std::move(status));
  started_ = true;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_timer_start(&timer_, &ServiceManagerLink::onTimer, 0, kReadyPollMs);
  if (watchdog_.ping_ms)
    KW_LOG_INFO("service manager watchdog: WATCHDOG=1 every %llu ms while every worker is alive",
                static_cast<unsigned long long>(watchdog_.ping_ms));
}

void ServiceManagerLink::onTimer(uv_timer_t* t) {
  auto* self = static_cast<ServiceManagerLink*>(t->data);
  const std::vector<uint64_t> beats = self->heartbeats_();
  if (!self->ready_) {
    if (!allListening(beats))
      return;
    self->ready_ = true;
    self->send("READY=1\nSTATUS=" + self->status_);
    uv_timer_stop(t);
    if (self->watchdog_.ping_ms)
      uv_timer_start(t, &ServiceManagerLink::onTimer, self->watchdog_.ping_ms,
                     self->watchdog_.ping_ms);
    return;
  }
  if (allFresh(beats, nowMs(), self->watchdog_.max_age_ms))
    self->send("WATCHDOG=1");
  else
    KW_LOG_WARN("a worker loop has not run its housekeeping for %llu ms: watchdog not fed",
                static_cast<unsigned long long>(self->watchdog_.max_age_ms));
}

void ServiceManagerLink::reloading() {
  if (ready_ && !stopping_)
    send(sdReloadingMessage());
}

void ServiceManagerLink::reloaded(bool ok, const std::string& error) {
  if (!ready_ || stopping_)
    return;
  send("READY=1\nSTATUS=" + status_ +
       (ok ? "; configuration reloaded"
           : "; reload failed, configuration unchanged: " + oneLine(error)));
}

void ServiceManagerLink::stopping() {
  if (!started_ || stopping_)
    return;
  stopping_ = true;
  uv_timer_stop(&timer_);
  send("STOPPING=1\nSTATUS=draining");
}

void ServiceManagerLink::send(const std::string& message) {
  std::string error;
  if (!sdNotify(message, &error) && !send_failed_) {
    send_failed_ = true;
    KW_LOG_WARN("cannot notify the service manager (%s); continuing", error.c_str());
  }
}

}  // namespace kw

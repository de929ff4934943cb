// What keywarden tells its service manager (systemd, Type=notify; sd_notify.h is the wire), and
// when. Runs on the main loop; without NOTIFY_SOCKET nothing here does anything.
//
//   moment                              sent
//   every worker's heartbeat is set     READY=1, STATUS=serving on ...  (a worker stamps it once
//                                       its listener and stages are up, before its loop runs)
//   SIGHUP                              RELOADING=1, then READY=1 and STATUS=<outcome>
//   SIGTERM / SIGINT                    STOPPING=1, STATUS=draining (the watchdog stops: systemd
//                                       disarms it too, and the drain deadline bounds the exit)
//   every ping period while running     WATCHDOG=1, only if every worker's heartbeat is fresh
//
// Workers stamp their heartbeat from their housekeeping timer (once a second), so a worker loop
// stuck in one turn stops stamping; the watchdog then goes unfed and systemd restarts the
// service (WatchdogSec=, Restart=on-failure in conf/systemd/keywarden.service.in).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kw {

// Heartbeats are milliseconds on the monotonic clock (uv_hrtime), one per worker, 0 until the
// worker listens.
bool allListening(const std::vector<uint64_t>& heartbeats);
bool allFresh(const std::vector<uint64_t>& heartbeats, uint64_t now_ms, uint64_t max_age_ms);

// For a watchdog of `watchdog_usec`: WATCHDOG=1 every ping_ms (a third of the interval, so one
// late ping is survived), and a heartbeat counts as fresh while younger than max_age_ms (half the
// interval, but never less than 2.5 housekeeping ticks).
struct WatchdogTiming {
  uint64_t ping_ms = 0;
  uint64_t max_age_ms = 0;
};
WatchdogTiming watchdogTiming(uint64_t watchdog_usec);

class ServiceManagerLink {
public:
  using Heartbeats = std::function<std::vector<uint64_t>()>;
  ServiceManagerLink(uv_loop_t* loop, Heartbeats heartbeats);
  ServiceManagerLink(const ServiceManagerLink&) = delete;
  ServiceManagerLink& operator=(const ServiceManagerLink&) = delete;

  // Waits (on a timer) for every worker to listen, then sends READY=1 with `status`.
  void start(std::string status);
  void reloading();
  void reloaded(bool ok, const std::string& error);
  void stopping();

private:
  static void onTimer(uv_timer_t* t);
  void send(const std::string& message);

  uv_loop_t* loop_;
  Heartbeats heartbeats_;
  bool enabled_ = false;
  bool started_ = false;  // the timer exists
  bool ready_ = false;
  bool stopping_ = false;
  bool send_failed_ = false;  // logged once
  WatchdogTiming watchdog_;
  std::string status_;
  uv_timer_t timer_{};
};

}  // namespace kw

// The service manager's notification protocol (sd_notify(3)), without libsystemd: one datagram of
// "KEY=VALUE" lines sent to the AF_UNIX datagram socket named by $NOTIFY_SOCKET (a name starting
// with '@' is in the abstract namespace). systemd documents the protocol as stable for exactly
// this kind of reimplementation. Not started by systemd with Type=notify (no NOTIFY_SOCKET):
// every call does nothing.
//
// Messages keywarden sends (src/proxy/service_manager.h says when):
//   READY=1                          every worker listens
//   STATUS=<text>                    one line for `systemctl status`
//   RELOADING=1 + MONOTONIC_USEC=... a SIGHUP reload starts (READY=1 again when it is done)
//   STOPPING=1                       draining after SIGTERM/SIGINT
//   WATCHDOG=1                       every worker loop is alive (WATCHDOG_USEC says how often)
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace kw {

// True when NOTIFY_SOCKET is set (keywarden runs under a service manager that listens).
bool sdNotifyEnabled();

// Sends `state` to $NOTIFY_SOCKET. False when the variable is unset (nothing sent) or the send
// failed (*error says why, when error is not null).
bool sdNotify(std::string_view state, std::string* error = nullptr);

// The same to `socket_name`, spelled as NOTIFY_SOCKET spells it ("/run/x" or "@abstract").
bool sdNotifyTo(std::string_view socket_name, std::string_view state, std::string* error);

// The watchdog interval in microseconds from WATCHDOG_USEC, when it is meant for this process
// (WATCHDOG_PID unset or equal to getpid()); 0 when there is no watchdog.
uint64_t sdWatchdogUsec();
// The rule behind sdWatchdogUsec, on the variables' values (nullptr: unset).
uint64_t parseWatchdogUsec(const char* usec, const char* pid, pid_t self);

// "RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC now>": systemd 253 and later tell one reload
// from the next by the timestamp; older versions ignore it.
std::string sdReloadingMessage();

}  // namespace kw

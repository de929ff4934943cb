#include "common/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace kw {

bool sdNotifyEnabled() {
  const char* name = getenv("NOTIFY_SOCKET");
  return name != nullptr && name[0] != '\0';
}

bool sdNotify(std::string_view state, std::string* error) {
  const char* name = getenv("NOTIFY_SOCKET");
  if (name == nullptr || name[0] == '\0')
    return false;
  return sdNotifyTo(name, state, error);
}

bool sdNotifyTo(std::string_view socket_name, std::string_view state, std::string* error) {
  auto fail = [error](std::string why) {
    if (error)
      *error = std::move(why);
    return false;
  };
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_name.size() < 2 || (socket_name[0] != '/' && socket_name[0] != '@'))
    return fail("NOTIFY_SOCKET is neither a path nor an abstract name (@...)");
  if (socket_name.size() >= sizeof addr.sun_path)
    return fail("NOTIFY_SOCKET is longer than a socket address");
  memcpy(addr.sun_path, socket_name.data(), socket_name.size());
  // An abstract name is exactly its bytes after a leading NUL: no terminator in the length.
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_name.size());
  if (socket_name[0] == '@')
    addr.sun_path[0] = '\0';
  else
    len += 1;

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return fail(std::string("socket: ") + strerror(errno));
  ssize_t sent;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (sent < 0)
    return fail(std::string("send to NOTIFY_SOCKET: ") + strerror(err));
  if (static_cast<size_t>(sent) != state.size())
    return fail("send to NOTIFY_SOCKET: short datagram");
  return true;
}

uint64_t parseWatchdogUsec(const char* usec, const char* pid, pid_t self) {
  if (usec == nullptr || usec[0] < '0' || usec[0] > '9')
    return 0;
  if (pid != nullptr && pid[0] != '\0') {
    char* end = nullptr;
    errno = 0;
    const unsigned long long p = strtoull(pid, &end, 10);
    if (errno != 0 || *end != '\0' || p != static_cast<unsigned long long>(self))
      return 0;  // meant for another process (e.g. the one that exec'd us)
  }
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = strtoull(usec, &end, 10);
  if (errno != 0 || *end != '\0')
    return 0;
  return v;
}

uint64_t sdWatchdogUsec() {
  return parseWatchdogUsec(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), getpid());
}

std::string sdReloadingMessage() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t usec =
      static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

}  // namespace kw

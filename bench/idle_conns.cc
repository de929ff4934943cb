// Opens `--count` TCP connections to a Redis-protocol server and holds them, idle, for
// bench/idle_clients.sh. With `--ping 1` each connection first sends one PING and waits for its
// PONG (so the server has read from it at least once). Prints "ready <count>" once every
// connection is open (and answered), then sleeps until it is killed; the kernel closes the
// sockets. Needs `ulimit -n` above the count.
//
//   idle_conns --port P [--host 127.0.0.1] [--count 10000] [--ping 0|1]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace {

bool writeAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool readPong(int fd) {
  static constexpr std::string_view kPong = "+PONG\r\n";
  char buf[16];
  size_t got = 0;
  while (got < kPong.size()) {
    const ssize_t r = read(fd, buf + got, kPong.size() - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    got += static_cast<size_t>(r);
  }
  return std::string_view(buf, got) == kPong;
}

}  // namespace

int main(int argc, char** argv) {
  const char* host = "127.0.0.1";
  int port = 0;
  long count = 10000;
  bool ping = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view k = argv[i];
    if (k == "--host")
      host = argv[i + 1];
    else if (k == "--port")
      port = atoi(argv[i + 1]);
    else if (k == "--count")
      count = atol(argv[i + 1]);
    else if (k == "--ping")
      ping = std::string_view(argv[i + 1]) != "0";
    else {
      fprintf(stderr, "idle_conns: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (port <= 0 || count <= 0) {
    fprintf(stderr, "usage: idle_conns --port P [--count N] [--ping 0|1]\n");
    return 2;
  }
  // A connection the server closed must be reported, not end this process silently.
  signal(SIGPIPE, SIG_IGN);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "idle_conns: %s is not an IPv4 address\n", host);
    return 2;
  }
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(count));
  for (long i = 0; i < count; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      fprintf(stderr, "idle_conns: connection %ld: %s\n", i + 1, strerror(errno));
      return 1;
    }
    fds.push_back(fd);
  }
  if (ping) {
    // All PINGs first, then all PONGs: the server sees them as fast as it can take them.
    static constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
    for (size_t i = 0; i < fds.size(); ++i)
      if (!writeAll(fds[i], kPing.data(), kPing.size())) {
        fprintf(stderr, "idle_conns: PING on connection %zu: %s\n", i + 1, strerror(errno));
        return 1;
      }
    for (size_t i = 0; i < fds.size(); ++i)
      if (!readPong(fds[i])) {
        fprintf(stderr, "idle_conns: no PONG on connection %zu (closed, or another reply)\n",
                i + 1);
        return 1;
      }
  }
  printf("ready %ld\n", count);
  fflush(stdout);
  for (;;)
    pause();
}

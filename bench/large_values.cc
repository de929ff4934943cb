// Large values through one connection, for bench/large.sh: `--count` SETs of `--size`-byte
// values pipelined at once, then `--count` pipelined GETs of them, every reply checked byte for
// byte. Prints the wall time of each phase and, with `--cpu-pid`, the CPU ticks (utime+stime of
// /proc/PID/stat) that process used during each phase.
//
//   large_values --port P [--host 127.0.0.1] [--count 600] [--size 1048576] [--prefix lv:]
//                [--cpu-pid PID]
//
// The client's own cost is kept to what it cannot avoid, so the proxy's share of the wall time
// shows: requests go out with writev straight from one shared value buffer (a per-key tag in the
// first bytes makes each value distinct), and replies are not parsed into objects but compared,
// as they arrive, with the exact bytes expected (hiredis's reader would copy each bulk twice).
// A wrong byte anywhere (an error reply, a value of another key, a short value) stops the run
// with exit status 1 and the offset and bytes found.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  long count = 600;
  long size = 1048576;
  std::string prefix = "lv:";
  int cpu_pid = 0;
};

// A byte stream described as pieces of memory owned elsewhere (strings kept alive by the phase,
// or the shared value body), consumed from the front.
class Pieces {
public:
  void add(const char* p, size_t n) {
    if (n > 0)
      pieces_.push_back({const_cast<char*>(p), n});
  }
  bool done() const { return next_ == pieces_.size(); }

  // Sends as much as the socket takes; false on a socket error.
  bool sendSome(int fd) {
    while (!done()) {
      const size_t n = std::min<size_t>(pieces_.size() - next_, IOV_MAX);
      std::vector<iovec> iov(pieces_.begin() + static_cast<long>(next_),
                             pieces_.begin() + static_cast<long>(next_ + n));
      iov[0].iov_base = static_cast<char*>(iov[0].iov_base) + offset_;
      iov[0].iov_len -= offset_;
      const ssize_t w = writev(fd, iov.data(), static_cast<int>(n));
      if (w < 0)
        return errno == EAGAIN || errno == EINTR;
      consume(static_cast<size_t>(w));
    }
    return true;
  }

  // Compares `n` received bytes with the expected stream; on a mismatch returns false and sets
  // *where to the stream offset of the first wrong byte.
  bool match(const char* p, size_t n, size_t* where) {
    while (n > 0) {
      if (done()) {
        *where = position_;
        return false;
      }
      const iovec& cur = pieces_[next_];
      const size_t k = std::min(n, cur.iov_len - offset_);
      const char* want = static_cast<const char*>(cur.iov_base) + offset_;
      if (memcmp(p, want, k) != 0) {
        size_t i = 0;
        while (p[i] == want[i])
          ++i;
        *where = position_ + i;
        return false;
      }
      consume(k);
      p += k;
      n -= k;
    }
    return true;
  }

  size_t position() const { return position_; }

private:
  void consume(size_t n) {
    position_ += n;
    while (n > 0) {
      const size_t left = pieces_[next_].iov_len - offset_;
      if (n < left) {
        offset_ += n;
        return;
      }
      n -= left;
      offset_ = 0;
      ++next_;
    }
  }

  std::vector<iovec> pieces_;
  size_t next_ = 0, offset_ = 0, position_ = 0;
};

int connectTo(const Options& o) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(o.host.c_str(), std::to_string(o.port).c_str(), &hints, &res) != 0 || !res) {
    fprintf(stderr, "large_values: cannot resolve %s\n", o.host.c_str());
    exit(1);
  }
  const int fd = socket(res->ai_family, res->ai_socktype, 0);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    fprintf(stderr, "large_values: connect %s:%d: %s\n", o.host.c_str(), o.port, strerror(errno));
    exit(1);
  }
  freeaddrinfo(res);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// utime + stime of every thread of `pid`, in clock ticks; 0 without a pid.
long cpuTicks(int pid) {
  if (pid <= 0)
    return 0;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = fopen(path, "r");
  if (!f)
    return -1;
  char buf[1024];
  const size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const char* p = strrchr(buf, ')');
  if (!p)
    return -1;
  long utime = 0, stime = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime) != 2)
    return -1;
  return utime + stime;
}

// Sends `requests` while comparing what comes back with `expected`, until all of it arrived.
void runPhase(int fd, const char* name, Pieces& requests, Pieces& expected) {
  std::vector<char> buf(1 << 18);
  while (!expected.done()) {
    pollfd p{fd, static_cast<short>(POLLIN | (requests.done() ? 0 : POLLOUT)), 0};
    if (poll(&p, 1, 30000) == 0) {
      fprintf(stderr, "large_values: %s: no progress for 30 s at reply byte %zu\n", name,
              expected.position());
      exit(1);
    }
    if ((p.revents & POLLOUT) && !requests.sendSome(fd)) {
      fprintf(stderr, "large_values: %s: write: %s\n", name, strerror(errno));
      exit(1);
    }
    if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
      continue;
    const ssize_t got = read(fd, buf.data(), buf.size());
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (got <= 0) {
      fprintf(stderr, "large_values: %s: connection closed at reply byte %zu\n", name,
              expected.position());
      exit(1);
    }
    size_t where = 0;
    const size_t before = expected.position();
    if (!expected.match(buf.data(), static_cast<size_t>(got), &where)) {
      const size_t at = where - before;
      const size_t show = std::min<size_t>(static_cast<size_t>(got) - at, 80);
      std::string seen(buf.data() + at, show);
      for (char& c : seen)
        if (c == '\r' || c == '\n')
          c = ' ';
      fprintf(stderr, "large_values: %s: wrong reply byte at offset %zu: \"%s\"\n", name, where,
              seen.c_str());
      exit(1);
    }
  }
}

std::string bulkHeader(size_t n) {
  // Appended piece by piece: GCC 12's -Wrestrict misreads "$" + std::string at -O2.
  std::string out = "$";
  out.append(std::to_string(n)).append("\r\n");
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--host")
      o.host = v;
    else if (k == "--port")
      o.port = atoi(v);
    else if (k == "--count")
      o.count = atol(v);
    else if (k == "--size")
      o.size = atol(v);
    else if (k == "--prefix")
      o.prefix = v;
    else if (k == "--cpu-pid")
      o.cpu_pid = atoi(v);
    else {
      fprintf(stderr, "large_values: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (o.port <= 0 || o.count <= 0 || o.size < 0) {
    fprintf(stderr, "usage: large_values --port P [--count N] [--size BYTES] [--prefix P] "
                    "[--cpu-pid PID]\n");
    return 2;
  }
  const size_t size = static_cast<size_t>(o.size), count = static_cast<size_t>(o.count);
  // One body shared by every value; its first bytes are replaced by the key's tag.
  std::vector<char> body(size);
  uint32_t x = 2463534242u;
  for (char& c : body) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>('a' + x % 26);
  }
  std::vector<std::string> keys(count), tags(count), setHeads(count), getReqs(count);
  for (size_t i = 0; i < count; ++i) {
    char k[32];
    snprintf(k, sizeof k, "%08zu", i);
    keys[i] = o.prefix + k;
    tags[i] = ("<" + keys[i] + ">").substr(0, size);
    setHeads[i] =
        "*3\r\n$3\r\nSET\r\n" + bulkHeader(keys[i].size()) + keys[i] + "\r\n" + bulkHeader(size);
    getReqs[i] = "*2\r\n$3\r\nGET\r\n" + bulkHeader(keys[i].size()) + keys[i] + "\r\n";
  }
  const std::string crlf = "\r\n", ok = "+OK\r\n", valueHead = bulkHeader(size);

  Pieces setReq, setExp, getReq, getExp;
  for (size_t i = 0; i < count; ++i) {
    setReq.add(setHeads[i].data(), setHeads[i].size());
    setReq.add(tags[i].data(), tags[i].size());
    setReq.add(body.data() + tags[i].size(), size - tags[i].size());
    setReq.add(crlf.data(), crlf.size());
    setExp.add(ok.data(), ok.size());
    getReq.add(getReqs[i].data(), getReqs[i].size());
    getExp.add(valueHead.data(), valueHead.size());
    getExp.add(tags[i].data(), tags[i].size());
    getExp.add(body.data() + tags[i].size(), size - tags[i].size());
    getExp.add(crlf.data(), crlf.size());
  }

  const int fd = connectTo(o);
  const long cpu0 = cpuTicks(o.cpu_pid);
  const auto t0 = Clock::now();
  runPhase(fd, "SET", setReq, setExp);
  const auto t1 = Clock::now();
  const long cpu1 = cpuTicks(o.cpu_pid);
  runPhase(fd, "GET", getReq, getExp);
  const auto t2 = Clock::now();
  const long cpu2 = cpuTicks(o.cpu_pid);
  close(fd);

  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  printf("set_ms=%.3f get_ms=%.3f set_cpu_ticks=%ld get_cpu_ticks=%ld values=%zu value_bytes=%zu\n",
         ms(t1 - t0), ms(t2 - t1), o.cpu_pid ? cpu1 - cpu0 : -1, o.cpu_pid ? cpu2 - cpu1 : -1,
         count, size);
  return 0;
}

// A zipf read/write mix for the near cache benchmark (bench/nearcache.sh): reads (GET) go to one
// port (keywarden, or Redis for the baseline), writes (SET) to another (Redis directly, so the
// proxy only learns of them through its invalidation feed). `--clients` connections, each sending
// `--pipeline` commands at a time, over `--threads` threads. A probe thread measures staleness:
// it writes a unique value to a hot key directly in Redis, then reads the key through the read
// port until it sees it, and records how long that took.
//
//   zipf_load --read-port P --write-port Q [--clients 50] [--pipeline 16] [--threads 2]
//             [--seconds 5] [--keys 100000] [--s 0.99] [--write-ratio 0.05] [--value-size 64]
//             [--prefix key:] [--probe 1] [--warmup 0]
// With the probe on, the 100 hottest keys are written by the probe only (other writes to them go
// to the next 100 ranks).
// Prints one line of key=value pairs.
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int read_port = 0, write_port = 0, clients = 50, pipeline = 16, threads = 2;
  double seconds = 5, s = 0.99, write_ratio = 0.05, warmup = 0;
  int keys = 100000, value_size = 64;
  std::string prefix = "key:";
  bool probe = true;
};

int connectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    perror("connect");
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void writeAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n <= 0) {
      perror("write");
      exit(1);
    }
    off += static_cast<size_t>(n);
  }
}

// Reads `n` replies from fd; returns the last one's string (for the probe) in *last.
void readReplies(int fd, redisReader* r, int n, std::string* last = nullptr) {
  char buf[65536];
  while (n > 0) {
    void* reply = nullptr;
    if (redisReaderGetReply(r, &reply) != REDIS_OK) {
      fprintf(stderr, "protocol error\n");
      exit(1);
    }
    if (reply) {
      auto* rr = static_cast<redisReply*>(reply);
      if (rr->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "error reply: %s\n", rr->str);
        exit(1);
      }
      if (last)
        *last = rr->type == REDIS_REPLY_STRING ? std::string(rr->str, rr->len) : std::string();
      freeReplyObject(reply);
      --n;
      continue;
    }
    ssize_t got = read(fd, buf, sizeof buf);
    if (got <= 0) {
      fprintf(stderr, "connection closed\n");
      exit(1);
    }
    redisReaderFeed(r, buf, static_cast<size_t>(got));
  }
}

void cmd(std::string* out, std::initializer_list<std::string_view> args) {
  // (appends, not operator+: GCC 12 warns about those falsely here, -Wrestrict)
  out->push_back('*');
  out->append(std::to_string(args.size()));
  out->append("\r\n");
  for (std::string_view a : args) {
    out->push_back('$');
    out->append(std::to_string(a.size()));
    out->append("\r\n");
    out->append(a);
    out->append("\r\n");
  }
}

std::string keyName(const Options& o, int rank) {
  char b[32];
  snprintf(b, sizeof b, "%012d", rank);
  return o.prefix + b;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--read-port")
      o.read_port = std::stoi(v);
    else if (k == "--write-port")
      o.write_port = std::stoi(v);
    else if (k == "--clients")
      o.clients = std::stoi(v);
    else if (k == "--pipeline")
      o.pipeline = std::stoi(v);
    else if (k == "--threads")
      o.threads = std::stoi(v);
    else if (k == "--seconds")
      o.seconds = std::stod(v);
    else if (k == "--keys")
      o.keys = std::stoi(v);
    else if (k == "--s")
      o.s = std::stod(v);
    else if (k == "--write-ratio")
      o.write_ratio = std::stod(v);
    else if (k == "--value-size")
      o.value_size = std::stoi(v);
    else if (k == "--prefix")
      o.prefix = v;
    else if (k == "--probe")
      o.probe = v != "0";
    else {
      fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (!o.read_port || !o.write_port) {
    fprintf(stderr, "usage: zipf_load --read-port P --write-port Q [options]\n");
    return 2;
  }
  // Zipf CDF over ranks 0..keys-1 (rank 0 hottest).
  std::vector<double> cdf(static_cast<size_t>(o.keys));
  double sum = 0;
  for (int i = 0; i < o.keys; ++i)
    sum += 1.0 / std::pow(i + 1, o.s);
  double acc = 0;
  for (int i = 0; i < o.keys; ++i) {
    acc += 1.0 / std::pow(i + 1, o.s) / sum;
    cdf[static_cast<size_t>(i)] = acc;
  }
  const std::string value(static_cast<size_t>(o.value_size), 'v');
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0}, writes{0};

  auto worker = [&](int tid) {
    std::mt19937_64 rng(1234 + tid);
    std::uniform_real_distribution<double> u(0, 1);
    const int conns = o.clients / o.threads + (tid < o.clients % o.threads ? 1 : 0);
    struct Conn {
      int rfd, wfd;
      redisReader *rr, *wr;
    };
    std::vector<Conn> cs;
    for (int i = 0; i < conns; ++i)
      cs.push_back({connectTo(o.read_port), connectTo(o.write_port), redisReaderCreate(),
                    redisReaderCreate()});
    std::string rbuf, wbuf;
    while (!stop.load(std::memory_order_relaxed)) {
      std::vector<std::pair<int, int>> counts;
      for (Conn& c : cs) {
        rbuf.clear();
        wbuf.clear();
        int nr = 0, nw = 0;
        for (int p = 0; p < o.pipeline; ++p) {
          const int rank =
              static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
          int r = std::min(rank, o.keys - 1);
          const bool write = u(rng) < o.write_ratio;
          // The 100 hottest keys are the staleness probe's to write (it must see its own value),
          // everyone's to read.
          if (write && o.probe && r < 100)
            r += 100;
          const std::string key = keyName(o, r);
          if (write) {
            cmd(&wbuf, {"SET", key, value});
            ++nw;
          } else {
            cmd(&rbuf, {"GET", key});
            ++nr;
          }
        }
        if (nr)
          writeAll(c.rfd, rbuf);
        if (nw)
          writeAll(c.wfd, wbuf);
        counts.emplace_back(nr, nw);
      }
      for (size_t i = 0; i < cs.size(); ++i) {
        readReplies(cs[i].rfd, cs[i].rr, counts[i].first);
        readReplies(cs[i].wfd, cs[i].wr, counts[i].second);
        reads += static_cast<uint64_t>(counts[i].first);
        writes += static_cast<uint64_t>(counts[i].second);
      }
    }
    for (Conn& c : cs) {
      close(c.rfd);
      close(c.wfd);
      redisReaderFree(c.rr);
      redisReaderFree(c.wr);
    }
  };

  std::vector<double> stale_ms;
  auto prober = [&] {
    int rfd = connectTo(o.read_port), wfd = connectTo(o.write_port);
    redisReader* rr = redisReaderCreate();
    redisReader* wr = redisReaderCreate();
    std::mt19937_64 rng(99);
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const std::string key = keyName(o, static_cast<int>(rng() % 100));
      const std::string val = "probe-" + std::to_string(++n);
      std::string b;
      cmd(&b, {"SET", key, val});
      writeAll(wfd, b);
      readReplies(wfd, wr, 1);
      const auto t0 = Clock::now();
      for (;;) {
        b.clear();
        cmd(&b, {"GET", key});
        writeAll(rfd, b);
        std::string got;
        readReplies(rfd, rr, 1, &got);
        if (got == val)
          break;
        if (Clock::now() - t0 > std::chrono::seconds(5)) {
          fprintf(stderr, "probe: %s not seen in 5 s\n", key.c_str());
          break;
        }
      }
      stale_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    close(rfd);
    close(wfd);
    redisReaderFree(rr);
    redisReaderFree(wr);
  };

  std::vector<std::thread> ts;
  for (int t = 0; t < o.threads; ++t)
    ts.emplace_back(worker, t);
  // Warm-up: the same load, not counted.
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
  reads = 0;
  writes = 0;
  const auto start = Clock::now();
  std::thread probe_thread;
  if (o.probe)
    probe_thread = std::thread(prober);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  for (auto& t : ts)
    t.join();
  if (probe_thread.joinable())
    probe_thread.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(stale_ms.begin(), stale_ms.end());
  auto pct = [&](double p) {
    return stale_ms.empty() ? 0.0
                            : stale_ms[std::min(stale_ms.size() - 1,
                                                static_cast<size_t>(p / 100 * stale_ms.size()))];
  };
  printf("ops_per_s=%.0f reads_per_s=%.0f writes_per_s=%.0f probes=%zu stale_p50_ms=%.3f "
         "stale_p99_ms=%.3f stale_max_ms=%.3f\n",
         static_cast<double>(reads + writes) / secs, static_cast<double>(reads) / secs,
         static_cast<double>(writes) / secs, stale_ms.size(), pct(50), pct(99),
         stale_ms.empty() ? 0.0 : stale_ms.back());
  return 0;
}

#include <arpa/inet.h>
#include <doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "proxy/metrics/collector.h"
#include "proxy/metrics/http_endpoint.h"
#include "proxy/metrics/request_metrics.h"
#include "proxy/stats.h"

using kw::HistogramSnapshot;
using kw::MetricsCollector;
using kw::MetricsHttpEndpoint;
using kw::MetricsSource;
using kw::Outcome;
using kw::RequestMetrics;
using kw::TtlCounter;
using kw::WorkerStats;

namespace {

constexpr uint32_t kGet = 0;
constexpr uint32_t kSet = 1;

struct FakeSource : MetricsSource {
  struct Shard {
    WorkerStats stats;
    RequestMetrics requests;
  };
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<std::string> commands{"get", "set", "del"};
  std::vector<std::string> namespaces{"session", "cart"};
  std::atomic<bool> up{true};

  explicit FakeSource(size_t n = 2) {
    for (size_t i = 0; i < n; ++i)
      shards.push_back(std::make_unique<Shard>());
  }
  void forEachShard(const ShardFn& fn) const override {
    for (const auto& s : shards)
      fn(s->stats, s->requests);
  }
  std::vector<std::string> commandNames() const override { return commands; }
  std::vector<std::string> namespaceNames() const override { return namespaces; }
  bool upstreamUp() const override { return up.load(); }
  double uptimeSeconds() const override { return 42.5; }
};

// The value of the sample whose name and labels are exactly `series`, or "" if absent.
std::string sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return line.substr(series.size() + 1);
    }
  }
  return "";
}

size_t countLines(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line))
    n += line.compare(0, prefix.size(), prefix) == 0;
  return n;
}

// Runs `promtool check metrics` on `text`; returns its exit status and fills *output.
int promtoolCheck(const std::string& text, std::string* output) {
  char path[] = "/tmp/kw_metrics_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  std::string cmd = std::string("promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    output->append(buf, n);
  int status = pclose(p);
  unlink(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("request metrics: counters, clamping, histogram buckets") {
  RequestMetrics m;
  m.recordCommand(kGet, 0, Outcome::kOk, 30'000);
  m.recordCommand(kGet, 0, Outcome::kOk, 10'000);  // on a bound: that bucket (le is inclusive)
  m.recordCommand(kGet, 0, Outcome::kRefusedAcl, 20'000'000'000);
  m.recordCommand(100000, 5000, Outcome::kError, 1);       // out of range: other/other
  m.recordCommand(kGet, 1, static_cast<Outcome>(200), 1);  // bad enum folds into ok
  CHECK(m.commands(kGet, 0, Outcome::kOk) == 2);
  CHECK(m.commands(kGet, 0, Outcome::kRefusedAcl) == 1);
  CHECK(m.commands(kGet, 1, Outcome::kOk) == 1);
  CHECK(m.commands(kw::kOtherCommand, kw::kOtherNamespace, Outcome::kError) == 1);
  HistogramSnapshot h = m.latency(kGet);
  CHECK(h.count() == 4);
  CHECK(h.buckets[0] == 2);                        // 1 ns and 10 us
  CHECK(h.buckets[2] == 1);                        // 30 us: (25, 50]
  CHECK(h.buckets[kw::kLatencyBuckets - 1] == 1);  // 20 s: +Inf
  CHECK(h.sum_ns == 30'000 + 10'000 + 20'000'000'000 + 1);

  m.recordRead(3, true);
  m.recordRead(3, false);
  m.recordRead(3, false);
  m.recordRead(kw::kNoNamespace, true);
  CHECK(m.reads(3, true) == 1);
  CHECK(m.reads(3, false) == 2);
  CHECK(m.reads(kw::kNoNamespace, true) == 1);
  m.recordTtl(0, TtlCounter::kClamped);
  m.recordTtl(999, TtlCounter::kFollowup);
  CHECK(m.ttl(0, TtlCounter::kClamped) == 1);
  CHECK(m.ttl(kw::kOtherNamespace, TtlCounter::kFollowup) == 1);
  m.recordAuthFailure();
  CHECK(m.authFailures() == 1);
  m.recordUpstreamRtt(150'000);
  CHECK(m.upstreamRtt().buckets[4] == 1);
}

TEST_CASE("request metrics: a concurrent reader sees monotonic counts and the final total") {
  RequestMetrics m;
  constexpr uint64_t kN = 200000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uint64_t i = 0; i < kN; ++i)
      m.recordCommand(kSet, 2, Outcome::kOk, i % 1'000'000);
    done = true;
  });
  uint64_t last = 0;
  bool monotonic = true;
  while (!done.load()) {
    uint64_t v = m.commands(kSet, 2, Outcome::kOk);
    monotonic = monotonic && v >= last;
    last = v;
  }
  writer.join();
  CHECK(monotonic);
  CHECK(m.commands(kSet, 2, Outcome::kOk) == kN);
  CHECK(m.latency(kSet).count() == kN);
}

TEST_CASE("collector: sums shards into exact samples") {
  FakeSource src;
  for (int i = 0; i < 600; ++i)
    src.shards[0]->requests.recordCommand(kGet, kw::kNoNamespace, Outcome::kOk, 30'000);
  for (int i = 0; i < 400; ++i)
    src.shards[1]->requests.recordCommand(kGet, kw::kNoNamespace, Outcome::kOk, 30'000);
  src.shards[1]->requests.recordCommand(kSet, 0, Outcome::kRefusedTtl, 2'000'000);
  src.shards[0]->requests.recordRead(1, true);
  src.shards[1]->requests.recordRead(1, true);
  src.shards[1]->requests.recordRead(1, false);
  src.shards[0]->requests.recordTtl(0, TtlCounter::kDefaultApplied);
  src.shards[1]->requests.recordAuthFailure();
  src.shards[0]->requests.recordUpstreamRtt(80'000);
  src.shards[1]->requests.recordUpstreamRtt(80'000);
  src.shards[0]->stats.bytes_in.add(1000);
  src.shards[1]->stats.bytes_in.add(234);
  src.shards[0]->stats.commands_total.add(7);
  src.shards[0]->stats.clients_connected.add(3);
  src.shards[1]->stats.clients_connected.add(2);
  src.shards[1]->stats.upstream_inflight.add(4);

  MetricsCollector collector(&src, "0.1.0");
  std::string text = collector.serialize();
  INFO(text);

  CHECK(sample(text, R"(keywarden_commands_total{command="get",namespace="none",outcome="ok"})") ==
        "1000");
  CHECK(
      sample(
          text,
          R"(keywarden_commands_total{command="set",namespace="session",outcome="refused_ttl"})") ==
      "1");
  CHECK(countLines(text, "keywarden_commands_total{") == 2);

  const std::string h = "keywarden_command_duration_seconds";
  CHECK(sample(text, h + R"(_count{command="get"})") == "1000");
  CHECK(sample(text, h + R"(_sum{command="get"})") == "0.03");
  CHECK(sample(text, h + R"(_bucket{command="get",le="1e-05"})") == "0");
  CHECK(sample(text, h + R"(_bucket{command="get",le="2.5e-05"})") == "0");
  CHECK(sample(text, h + R"(_bucket{command="get",le="5e-05"})") == "1000");
  CHECK(sample(text, h + R"(_bucket{command="get",le="10"})") == "1000");
  CHECK(sample(text, h + R"(_bucket{command="get",le="+Inf"})") == "1000");
  CHECK(sample(text, h + R"(_bucket{command="set",le="0.001"})") == "0");
  CHECK(sample(text, h + R"(_bucket{command="set",le="0.0025"})") == "1");
  CHECK(countLines(text, h + "_bucket{command=\"get\"") == kw::kLatencyBuckets);
  CHECK(countLines(text, h + "_count{") == 2);  // del was never seen: no series

  CHECK(sample(text, R"(keywarden_upstream_rtt_seconds_count)") == "2");
  CHECK(sample(text, R"(keywarden_upstream_rtt_seconds_bucket{le="0.0001"})") == "2");
  CHECK(sample(text, R"(keywarden_reads_total{namespace="cart",result="hit"})") == "2");
  CHECK(sample(text, R"(keywarden_reads_total{namespace="cart",result="miss"})") == "1");
  CHECK(sample(text,
               R"(keywarden_ttl_actions_total{namespace="session",action="default_applied"})") ==
        "1");
  CHECK(sample(text, "keywarden_auth_failures_total") == "1");
  CHECK(sample(text, "keywarden_bytes_in_total") == "1234");
  CHECK(sample(text, "keywarden_commands_received_total") == "7");
  CHECK(sample(text, "keywarden_connections_rejected_max_clients_total") == "0");
  CHECK(sample(text, "keywarden_clients_connected") == "5");
  CHECK(sample(text, "keywarden_upstream_inflight") == "4");
  CHECK(sample(text, "keywarden_upstream_up") == "1");
  CHECK(sample(text, "keywarden_uptime_seconds") == "42.5");
  CHECK(sample(text, R"(keywarden_build_info{version="0.1.0"})") == "1");
  CHECK(text.find("# HELP keywarden_bytes_out_total bytes written to clients\n") !=
        std::string::npos);
  CHECK(text.find("# TYPE keywarden_command_duration_seconds histogram\n") != std::string::npos);

  src.up = false;
  CHECK(sample(collector.serialize(), "keywarden_upstream_up") == "0");
}

TEST_CASE("collector: stat counter family names") {
  CHECK(kw::statCounterFamilyName("bytes_in") == "keywarden_bytes_in_total");
  CHECK(kw::statCounterFamilyName("commands_total") == "keywarden_commands_received_total");
  CHECK(kw::statCounterFamilyName("x_total") == "keywarden_x_total");
}

TEST_CASE("collector: labels stay bounded and unique whatever the indexes") {
  FakeSource src(1);
  // Names the upstream or the config could hold: bytes that must not reach the exposition raw,
  // and names colliding with the reserved labels.
  src.commands = {"get", "we\"ird\ncmd\xff", "", "other"};
  src.namespaces = {"none", "bad\xc3name"};
  RequestMetrics& r = src.shards[0]->requests;
  r.recordCommand(1, 1, Outcome::kOk, 1000);  // the odd names: not on the stride below
  for (uint32_t cmd = 0; cmd < kw::kMaxCommands + 50; cmd += 3) {
    for (uint32_t ns = 0; ns < 200; ns += 7) {
      r.recordCommand(cmd, ns, static_cast<Outcome>(cmd % kw::kOutcomes), 1000);
      r.recordRead(ns, cmd % 2);
      r.recordTtl(ns, static_cast<TtlCounter>(ns % kw::kTtlCounters));
    }
  }
  MetricsCollector collector(&src, "0.1.0");
  std::string text = collector.serialize();
  std::set<std::string> series;
  size_t samples = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    ++samples;
    std::string key = line.substr(0, line.rfind(' '));
    CHECK_MESSAGE(series.insert(key).second, "duplicate series: " << key);
    for (unsigned char c : line)
      CHECK((c >= 0x20 && c < 0x7f));
  }
  // Labels: command in {get, we"ird_cmd_, other}, namespace in {none, bad_name, other}.
  CHECK(countLines(text, "keywarden_commands_total{") <= 3 * 3 * kw::kOutcomes);
  CHECK(countLines(text, "keywarden_command_duration_seconds_count{") == 3);
  CHECK(text.find(R"(command="we\"ird\ncmd_")") == std::string::npos);
  CHECK(text.find(R"(command="we\"ird_cmd_")") != std::string::npos);
  CHECK(text.find(R"(namespace="bad_name")") != std::string::npos);
  CHECK(samples < 400);

  std::string out;
  int rc = promtoolCheck(text, &out);
  CHECK_MESSAGE(rc == 0, out);
}

TEST_CASE("collector: promtool check metrics accepts the exposition") {
  FakeSource src;
  for (uint32_t cmd = 0; cmd < 3; ++cmd) {
    for (size_t o = 0; o < kw::kOutcomes; ++o) {
      src.shards[cmd % 2]->requests.recordCommand(cmd, cmd == 2 ? kw::kNoNamespace : cmd,
                                                  static_cast<Outcome>(o), 12'345 * (o + 1));
    }
  }
  for (auto& s : src.shards) {
    s->requests.recordUpstreamRtt(55'000);
    s->requests.recordRead(0, false);
    s->requests.recordTtl(1, TtlCounter::kRefusedPersist);
    s->requests.recordAuthFailure();
    s->stats.connections_accepted.add(5);
    s->stats.clients_connected.add(1);
  }
  std::string text = MetricsCollector(&src, "0.1.0").serialize();
  std::string out;
  int rc = promtoolCheck(text, &out);
  INFO(text);
  CHECK_MESSAGE(rc == 0, "promtool check metrics (exit "
                             << rc << "; 127 means promtool is "
                             << "missing: apt-get install prometheus): " << out);
}

// ---- HTTP endpoint ----

namespace {

// The endpoint on a private loop in its own thread, as on the main thread in the proxy.
struct EndpointThread {
  uv_loop_t loop{};
  uv_async_t stopper{};
  std::unique_ptr<MetricsHttpEndpoint> ep;
  std::thread thread;
  std::atomic<bool> healthy{true};
  std::atomic<int> scrapes{0};
  int port = 0;

  explicit EndpointThread(MetricsHttpEndpoint::Options opts = {}) {
    uv_loop_init(&loop);
    ep = std::make_unique<MetricsHttpEndpoint>(
        [this] {
          ++scrapes;
          return std::string("# HELP x_total x\n# TYPE x_total counter\nx_total 1\n");
        },
        [this] { return healthy.load(); }, opts);
    std::string error;
    REQUIRE_MESSAGE(ep->start(&loop, {"127.0.0.1", 0}, &error), error);
    port = ep->port();
    REQUIRE(port > 0);
    stopper.data = this;
    uv_async_init(&loop, &stopper, [](uv_async_t* a) {
      auto* self = static_cast<EndpointThread*>(a->data);
      self->ep->stop();
      uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
    });
    thread = std::thread([this] { uv_run(&loop, UV_RUN_DEFAULT); });
  }
  ~EndpointThread() {
    uv_async_send(&stopper);
    thread.join();
    // Every handle closed and freed: stop() left nothing behind.
    CHECK(uv_loop_close(&loop) == 0);
  }
};

int connectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

void sendAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return;  // the server may close early (oversized request); reading tells
    off += static_cast<size_t>(n);
  }
}

// Everything the server sends until it closes.
std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string fetch(int port, const std::string& request) {
  int fd = connectTo(port);
  sendAll(fd, request);
  std::string r = readAll(fd);
  close(fd);
  return r;
}

std::string statusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

std::string body(const std::string& response) {
  size_t p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

}  // namespace

TEST_CASE("http endpoint: routes, status codes, headers") {
  EndpointThread t;

  std::string r = fetch(t.port, "GET /metrics HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n");
  CHECK(statusLine(r) == "HTTP/1.1 200 OK");
  CHECK(r.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n") !=
        std::string::npos);
  CHECK(r.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(body(r) == "# HELP x_total x\n# TYPE x_total counter\nx_total 1\n");
  CHECK(r.find("\r\nContent-Length: " + std::to_string(body(r).size()) + "\r\n") !=
        std::string::npos);

  r = fetch(t.port, "GET /healthz HTTP/1.0\r\n\r\n");
  CHECK(statusLine(r) == "HTTP/1.1 200 OK");
  CHECK(body(r) == "ok\n");
  t.healthy = false;
  r = fetch(t.port, "GET /healthz HTTP/1.1\r\n\r\n");
  CHECK(statusLine(r) == "HTTP/1.1 503 Service Unavailable");
  CHECK(body(r) == "upstream down\n");
  t.healthy = true;

  // Query strings, absolute-form targets and bare LF line ends.
  CHECK(statusLine(fetch(t.port, "GET /metrics?x=1 HTTP/1.1\r\n\r\n")) == "HTTP/1.1 200 OK");
  CHECK(statusLine(fetch(t.port, "GET http://h:1/healthz HTTP/1.1\r\n\r\n")) == "HTTP/1.1 200 OK");
  CHECK(statusLine(fetch(t.port, "GET /healthz HTTP/1.1\n\n")) == "HTTP/1.1 200 OK");

  r = fetch(t.port, "HEAD /metrics HTTP/1.1\r\n\r\n");
  CHECK(statusLine(r) == "HTTP/1.1 200 OK");
  CHECK(body(r).empty());

  CHECK(statusLine(fetch(t.port, "GET / HTTP/1.1\r\n\r\n")) == "HTTP/1.1 404 Not Found");
  CHECK(statusLine(fetch(t.port, "GET /metricsx HTTP/1.1\r\n\r\n")) == "HTTP/1.1 404 Not Found");
  r = fetch(t.port, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  CHECK(statusLine(r) == "HTTP/1.1 405 Method Not Allowed");
  CHECK(r.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos);
  CHECK(statusLine(fetch(t.port, "GET /metrics HTTP/2.0\r\n\r\n")) ==
        "HTTP/1.1 505 HTTP Version Not Supported");
  for (const char* bad :
       {"GET /metrics\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n", "G(T /metrics HTTP/1.1\r\n\r\n",
        "\r\n\r\n", "GET /metrics FOO\r\n\r\n", "GET /metrics HTTP/1.1 x\r\n\r\n"}) {
    CHECK_MESSAGE(statusLine(fetch(t.port, bad)) == "HTTP/1.1 400 Bad Request", bad);
  }
}

TEST_CASE("http endpoint: a request split into single bytes") {
  EndpointThread t;
  int fd = connectTo(t.port);
  for (char c : std::string("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")) {
    sendAll(fd, std::string(1, c));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::string r = readAll(fd);
  close(fd);
  CHECK(statusLine(r) == "HTTP/1.1 200 OK");
}

TEST_CASE("http endpoint: oversized requests, slow and surplus clients") {
  MetricsHttpEndpoint::Options opts;
  opts.header_timeout_ms = 300;
  opts.max_connections = 2;
  EndpointThread t(opts);

  std::string r = fetch(t.port, "GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a'));
  CHECK(statusLine(r) == "HTTP/1.1 431 Request Header Fields Too Large");
  // Exactly at the cap without an end of head.
  r = fetch(t.port, std::string(8192, 'x'));
  CHECK(statusLine(r) == "HTTP/1.1 431 Request Header Fields Too Large");

  // A client that stalls mid-request is closed at the deadline, without a response.
  auto t0 = std::chrono::steady_clock::now();
  r = fetch(t.port, "GET /metr");
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(r.empty());
  CHECK(waited >= std::chrono::milliseconds(250));
  CHECK(waited < std::chrono::seconds(5));

  // Two idle clients fill the endpoint; a third makes room by closing the one idle longest, and
  // is answered. Deadlines far enough not to close the idle two on a loaded machine.
  opts.header_timeout_ms = 5000;
  EndpointThread t2(opts);
  int a = connectTo(t2.port);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  int b = connectTo(t2.port);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  t0 = std::chrono::steady_clock::now();
  r = fetch(t2.port, "GET /healthz HTTP/1.1\r\n\r\n");
  CHECK(statusLine(r) == "HTTP/1.1 200 OK");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  CHECK(readAll(a).empty());  // closed by the server: EOF, not the 10 s receive timeout
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  char byte;
  CHECK(recv(b, &byte, 1, MSG_DONTWAIT) == -1);  // b, the newer idle one, is still open
  CHECK(errno == EAGAIN);
  // Once the head deadline passes, idle clients are closed without a response.
  opts.header_timeout_ms = 200;
  EndpointThread t3(opts);
  int idle = connectTo(t3.port);
  t0 = std::chrono::steady_clock::now();
  CHECK(readAll(idle).empty());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
  close(idle);
  close(a);
  close(b);
}

TEST_CASE("http endpoint: random bytes never crash it") {
  MetricsHttpEndpoint::Options opts;
  opts.header_timeout_ms = 100;  // most mutants are incomplete requests waiting for it
  EndpointThread t(opts);
  std::mt19937 rng(1234);
  const std::string seeds[] = {"GET /metrics HTTP/1.1\r\n\r\n", "GET /healthz HTTP/1.0\n\n",
                               "\r\n\r\n", "HEAD / HTTP/1.1\r\n\r\n"};
  for (int i = 0; i < 60; ++i) {
    std::string req = seeds[i % 4];
    // Mutate a few bytes, or append raw noise.
    for (int k = 0; k < 3; ++k)
      req[rng() % req.size()] = static_cast<char>(rng() & 0xff);
    if (i % 3 == 0) {
      for (int k = 0; k < 50; ++k)
        req.push_back(static_cast<char>(rng() & 0xff));
    }
    std::string r = fetch(t.port, req);
    CHECK((r.empty() || r.compare(0, 9, "HTTP/1.1 ") == 0));
  }
  CHECK(statusLine(fetch(t.port, "GET /metrics HTTP/1.1\r\n\r\n")) == "HTTP/1.1 200 OK");
}

TEST_CASE("http endpoint: serves the collector; bind errors are reported") {
  FakeSource src;
  src.shards[0]->requests.recordCommand(kGet, 0, Outcome::kOk, 20'000);
  MetricsCollector collector(&src, "0.1.0");

  uv_loop_t loop;
  uv_loop_init(&loop);
  MetricsHttpEndpoint ep([&] { return collector.serialize(); }, [&] { return src.upstreamUp(); });
  std::string error;
  REQUIRE(ep.start(&loop, {"127.0.0.1", 0}, &error));
  int port = ep.port();

  // The same port again: in use.
  MetricsHttpEndpoint other([] { return std::string(); }, [] { return true; });
  CHECK_FALSE(other.start(&loop, {"127.0.0.1", static_cast<uint16_t>(port)}, &error));
  const std::string p = std::to_string(port);
  CHECK(error == std::string("metrics listen 127.0.0.1:").append(p) +
                     ": address already in use (port " + p +
                     " is taken by another process, perhaps another keywarden)");
  CHECK_FALSE(other.start(&loop, {"no.such.host.invalid", 1}, &error));
  CHECK(error.find("metrics listen no.such.host.invalid:1: ") == 0);

  std::string response;
  std::atomic<bool> fetched{false};
  std::thread client([&] {
    response = fetch(port, "GET /metrics HTTP/1.1\r\n\r\n");
    fetched = true;
  });
  // The endpoint lives on this thread's loop: turn it until the client has its answer.
  while (!fetched.load()) {
    uv_run(&loop, UV_RUN_NOWAIT);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  client.join();
  CHECK(statusLine(response) == "HTTP/1.1 200 OK");
  CHECK(sample(body(response),
               R"(keywarden_commands_total{command="get",namespace="session",outcome="ok"})") ==
        "1");
  std::string out;
  CHECK_MESSAGE(promtoolCheck(body(response), &out) == 0, out);

  ep.stop();
  CHECK(ep.port() == 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

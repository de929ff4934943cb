// What recording one command costs on the request path: keywarden's per-worker shard
// (RequestMetrics::recordCommand) against prometheus-cpp 1.0's own metrics (Counter::Increment +
// Histogram::Observe, labels resolved beforehand, as a worker would cache them). Run it from a
// release build: meson setup build-release --buildtype=release && meson compile -C build-release
// metrics_record_bench && build-release/metrics_record_bench
//
// Both are measured on one thread and on two threads at once: with prometheus-cpp the workers
// would share one metric object per label set, with shards each writes its own.
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/metrics/request_metrics.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kIters = 5'000'000;
constexpr int kCommands = 8;  // a realistic spread of command rows being hit

// Latencies from 10 us to ~2 ms, so the bucket search takes a realistic number of steps.
uint64_t latencyNs(int i) {
  return 10'000 + static_cast<uint64_t>(i % 64) * 31'000;
}

double nsPerOp(const std::function<void(int thread)>& body, int threads) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> ts;
  std::vector<double> elapsed(threads);
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      ++ready;
      while (!go.load()) {
      }
      auto t0 = Clock::now();
      body(t);
      elapsed[t] = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    });
  }
  while (ready.load() < threads) {
  }
  go = true;
  for (auto& t : ts)
    t.join();
  double worst = 0;
  for (double e : elapsed)
    worst = e > worst ? e : worst;
  return worst / kIters;
}

long rssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0)
      return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

}  // namespace

int main() {
  // Memory first, on this thread alone so that no thread stack blurs the RSS deltas.
  rssKiB();  // warm up the stream machinery
  long rss0 = rssKiB();
  auto probe = std::make_unique<kw::RequestMetrics>();
  long rss1 = rssKiB();
  for (uint32_t cmd = 0; cmd < kCommands; ++cmd) {
    probe->recordCommand(cmd, kw::kNoNamespace, kw::Outcome::kOk, 20'000);
  }
  long rss2 = rssKiB();
  for (uint32_t cmd = 0; cmd < kw::kMaxCommands; ++cmd) {
    for (uint32_t ns = 0; ns < kw::kNamespaceSlots; ++ns) {
      for (size_t o = 0; o < kw::kOutcomes; ++o) {
        probe->recordCommand(cmd, ns, static_cast<kw::Outcome>(o), 20'000);
      }
    }
  }
  long rss3 = rssKiB();
  probe.reset();

  // Shards: one per thread, as one per worker.
  std::vector<std::unique_ptr<kw::RequestMetrics>> shards;
  for (int i = 0; i < 2; ++i)
    shards.push_back(std::make_unique<kw::RequestMetrics>());
  auto shard_body = [&](int t) {
    kw::RequestMetrics& m = *shards[t];
    for (int i = 0; i < kIters; ++i) {
      m.recordCommand(static_cast<uint32_t>(i % kCommands), kw::kNoNamespace, kw::Outcome::kOk,
                      latencyNs(i));
    }
  };
  double shard1 = nsPerOp(shard_body, 1);
  double shard2 = nsPerOp(shard_body, 2);

  // prometheus-cpp: one family per metric, one child per command, resolved before the loop.
  prometheus::Registry registry;
  auto& counters =
      prometheus::BuildCounter().Name("bench_commands_total").Help("x").Register(registry);
  auto& histograms =
      prometheus::BuildHistogram().Name("bench_duration_seconds").Help("x").Register(registry);
  std::vector<double> bounds;
  for (uint64_t b : kw::kLatencyBoundsNs)
    bounds.push_back(static_cast<double>(b) / 1e9);
  std::vector<prometheus::Counter*> c;
  std::vector<prometheus::Histogram*> h;
  for (int i = 0; i < kCommands; ++i) {
    std::string name = "cmd" + std::to_string(i);
    c.push_back(&counters.Add({{"command", name}, {"namespace", "none"}, {"outcome", "ok"}}));
    h.push_back(&histograms.Add({{"command", name}}, bounds));
  }
  auto prom_body = [&](int) {
    for (int i = 0; i < kIters; ++i) {
      int k = i % kCommands;
      c[k]->Increment();
      h[k]->Observe(static_cast<double>(latencyNs(i)) / 1e9);
    }
  };
  double prom1 = nsPerOp(prom_body, 1);
  double prom2 = nsPerOp(prom_body, 2);

  std::printf("recordCommand (counter + latency histogram), ns per call, %d calls per thread\n",
              kIters);
  std::printf("  %-44s %8s %8s\n", "", "1 thread", "2 threads");
  std::printf("  %-44s %8.1f %8.1f\n", "keywarden RequestMetrics (per-worker shard)", shard1,
              shard2);
  std::printf("  %-44s %8.1f %8.1f\n", "prometheus-cpp Counter::Increment + Observe", prom1, prom2);
  std::printf("shard memory: %zu KiB mapped; RSS +%ld KiB new, +%ld KiB after %d commands in "
              "one namespace, +%ld KiB with every (command, namespace, outcome) written\n",
              kw::RequestMetrics::mappedBytes() / 1024, rss1 - rss0, rss2 - rss1, kCommands,
              rss3 - rss2);
  return 0;
}

#include "proxy/metrics/collector.h"

#include "proxy/metrics/families.h"

#include <prometheus/text_serializer.h>

#include <limits>
#include <map>
#include <memory>
#include <tuple>

namespace kw {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr size_t kMaxLabelBytes = 100;

// Label values come from the upstream's COMMAND reply and the config file: keep them printable
// ASCII so the exposition stays valid UTF-8 whatever those hold.
std::string sanitizeLabel(std::string_view s) {
  std::string out;
  size_t n = s.size() < kMaxLabelBytes ? s.size() : kMaxLabelBytes;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '_');
  }
  return out;
}

std::vector<std::string> commandLabels(const std::vector<std::string>& names) {
  std::vector<std::string> labels(kMaxCommands, "other");
  for (uint32_t i = 0; i < kMaxCommands && i < names.size(); ++i) {
    if (i != kOtherCommand && !names[i].empty())
      labels[i] = sanitizeLabel(names[i]);
  }
  return labels;
}

std::vector<std::string> namespaceLabels(const std::vector<std::string>& names) {
  std::vector<std::string> labels(kNamespaceSlots, "other");
  for (uint32_t i = 0; i < kMaxNamespaces && i < names.size(); ++i) {
    if (!names[i].empty())
      labels[i] = sanitizeLabel(names[i]);
  }
  labels[kNoNamespace] = "none";
  return labels;
}

void addCounter(MetricFamily* f, std::vector<ClientMetric::Label> labels, double v) {
  ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = v;
  f->metric.push_back(std::move(m));
}

void addGauge(MetricFamily* f, std::vector<ClientMetric::Label> labels, double v) {
  ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = v;
  f->metric.push_back(std::move(m));
}

void addHistogram(MetricFamily* f, std::vector<ClientMetric::Label> labels,
                  const HistogramSnapshot& h) {
  ClientMetric m;
  m.label = std::move(labels);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBuckets; ++i) {
    cumulative += h.buckets[i];
    double le = i < kLatencyBounds ? static_cast<double>(kLatencyBoundsNs[i]) / 1e9
                                   : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back({cumulative, le});
  }
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(h.sum_ns) / 1e9;
  f->metric.push_back(std::move(m));
}

// Sums of every shard, still by index; labels are applied afterwards because two indexes may
// share a label ("other") and must then be one series.
struct Totals {
  uint64_t stats[64] = {};
  int64_t clients_connected = 0;
  int64_t upstream_connected = 0;
  int64_t upstream_inflight = 0;
  std::map<uint64_t, uint64_t> commands;  // (cmd * kNamespaceSlots + ns) * kOutcomes + o
  std::vector<HistogramSnapshot> latency = std::vector<HistogramSnapshot>(kMaxCommands);
  HistogramSnapshot rtt;
  uint64_t reads[kNamespaceSlots][2] = {};
  uint64_t ttl[kNamespaceSlots][kTtlCounters] = {};
  uint64_t auth_failures = 0;
  struct Node {
    uint64_t requests = 0, replies = 0, rtt_ns = 0, link_failures = 0;
  };
  Node nodes[WorkerStats::kNodeStats];
};

#define KW_COUNT_ONE(name, help) +1
constexpr size_t kStatCounters = 0 KW_WORKER_COUNTERS(KW_COUNT_ONE);
#undef KW_COUNT_ONE
static_assert(kStatCounters <= 64, "grow Totals::stats");

void addShard(Totals* t, const WorkerStats& s, const RequestMetrics& r) {
  size_t i = 0;
#define KW_SUM_COUNTER(name, help) t->stats[i++] += s.name.get();
  KW_WORKER_COUNTERS(KW_SUM_COUNTER)
#undef KW_SUM_COUNTER
  t->clients_connected += s.clients_connected.get();
  t->upstream_connected += s.upstream_connected.get();
  t->upstream_inflight += s.upstream_inflight.get();
  for (size_t n = 0; n < WorkerStats::kNodeStats; ++n) {
    t->nodes[n].requests += s.nodes[n].requests.get();
    t->nodes[n].replies += s.nodes[n].replies.get();
    t->nodes[n].rtt_ns += s.nodes[n].rtt_ns.get();
    t->nodes[n].link_failures += s.nodes[n].link_failures.get();
  }

  for (uint32_t cmd = 0; cmd < kMaxCommands; ++cmd) {
    HistogramSnapshot h = r.latency(cmd);
    // Every recorded command has a latency sample, so an empty histogram means an untouched
    // row: skipping it keeps a scrape from reading (and faulting in) the whole mapping.
    if (h.count() == 0)
      continue;
    t->latency[cmd].add(h);
    for (uint32_t ns = 0; ns < kNamespaceSlots; ++ns) {
      for (size_t o = 0; o < kOutcomes; ++o) {
        uint64_t v = r.commands(cmd, ns, static_cast<Outcome>(o));
        if (v)
          t->commands[(uint64_t{cmd} * kNamespaceSlots + ns) * kOutcomes + o] += v;
      }
    }
  }
  t->rtt.add(r.upstreamRtt());
  for (uint32_t ns = 0; ns < kNamespaceSlots; ++ns) {
    t->reads[ns][0] += r.reads(ns, true);
    t->reads[ns][1] += r.reads(ns, false);
    for (size_t a = 0; a < kTtlCounters; ++a)
      t->ttl[ns][a] += r.ttl(ns, static_cast<TtlCounter>(a));
  }
  t->auth_failures += r.authFailures();
}

}  // namespace

std::string statCounterFamilyName(std::string_view name) {
  constexpr std::string_view kSuffix = "_total";
  if (name.size() > kSuffix.size() && name.substr(name.size() - kSuffix.size()) == kSuffix) {
    name.remove_suffix(kSuffix.size());
  }
  // keywarden_commands_total is the labelled family; the WorkerStats counter of every command
  // received (including those that never reach a recordCommand) keeps its own name.
  if (name == "commands")
    name = "commands_received";
  return "keywarden_" + std::string(name) + "_total";
}

MetricsCollector::MetricsCollector(const MetricsSource* source, std::string version)
    : source_(source), version_(std::move(version)) {}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  auto t = std::make_unique<Totals>();
  source_->forEachShard(
      [&](const WorkerStats& s, const RequestMetrics& r) { addShard(t.get(), s, r); });
  std::vector<std::string> cmd_labels = commandLabels(source_->commandNames());
  std::vector<std::string> ns_labels = namespaceLabels(source_->namespaceNames());

  std::vector<MetricFamily> out;

  {
    auto f = family("keywarden_commands_total",
                    "Commands by command name, namespace and outcome (ok, error reply, upstream "
                    "down, or refused by the proxy with the reason).",
                    MetricType::Counter);
    std::map<std::tuple<std::string_view, std::string_view, size_t>, uint64_t> series;
    for (const auto& [key, v] : t->commands) {
      size_t o = key % kOutcomes;
      uint64_t ns = (key / kOutcomes) % kNamespaceSlots;
      uint64_t cmd = key / kOutcomes / kNamespaceSlots;
      series[{cmd_labels[cmd], ns_labels[ns], o}] += v;
    }
    for (const auto& [k, v] : series) {
      addCounter(&f,
                 {{"command", std::string(std::get<0>(k))},
                  {"namespace", std::string(std::get<1>(k))},
                  {"outcome", std::string(outcomeName(static_cast<Outcome>(std::get<2>(k))))}},
                 static_cast<double>(v));
    }
    if (!f.metric.empty())
      out.push_back(std::move(f));
  }
  {
    auto f = family("keywarden_command_duration_seconds",
                    "Time from a command's arrival to its reply being queued to the client.",
                    MetricType::Histogram);
    std::map<std::string_view, HistogramSnapshot> series;
    for (uint32_t cmd = 0; cmd < kMaxCommands; ++cmd) {
      if (t->latency[cmd].count())
        series[cmd_labels[cmd]].add(t->latency[cmd]);
    }
    for (const auto& [name, h] : series)
      addHistogram(&f, {{"command", std::string(name)}}, h);
    if (!f.metric.empty())
      out.push_back(std::move(f));
  }
  {
    auto f =
        family("keywarden_upstream_rtt_seconds",
               "Round trip of a request to the upstream Redis and back.", MetricType::Histogram);
    addHistogram(&f, {}, t->rtt);
    out.push_back(std::move(f));
  }
  {
    auto f = family("keywarden_reads_total",
                    "Reads per namespace where Redis answered a value (hit) or nil (miss).",
                    MetricType::Counter);
    std::map<std::pair<std::string_view, int>, uint64_t> series;
    for (uint32_t ns = 0; ns < kNamespaceSlots; ++ns) {
      for (int r = 0; r < 2; ++r) {
        if (t->reads[ns][r])
          series[{ns_labels[ns], r}] += t->reads[ns][r];
      }
    }
    for (const auto& [k, v] : series) {
      addCounter(&f,
                 {{"namespace", std::string(k.first)}, {"result", k.second == 0 ? "hit" : "miss"}},
                 static_cast<double>(v));
    }
    if (!f.metric.empty())
      out.push_back(std::move(f));
  }
  {
    auto f = family("keywarden_ttl_actions_total",
                    "TTL policy actions per namespace: default applied, clamped to the maximum, "
                    "refused over the maximum, refused PERSIST, follow-up EXPIRE sent.",
                    MetricType::Counter);
    std::map<std::pair<std::string_view, size_t>, uint64_t> series;
    for (uint32_t ns = 0; ns < kNamespaceSlots; ++ns) {
      for (size_t a = 0; a < kTtlCounters; ++a) {
        if (t->ttl[ns][a])
          series[{ns_labels[ns], a}] += t->ttl[ns][a];
      }
    }
    for (const auto& [k, v] : series) {
      addCounter(&f,
                 {{"namespace", std::string(k.first)},
                  {"action", std::string(ttlCounterName(static_cast<TtlCounter>(k.second)))}},
                 static_cast<double>(v));
    }
    if (!f.metric.empty())
      out.push_back(std::move(f));
  }
  {
    auto f = family("keywarden_auth_failures_total", "Failed AUTH and HELLO AUTH attempts.",
                    MetricType::Counter);
    addCounter(&f, {}, static_cast<double>(t->auth_failures));
    out.push_back(std::move(f));
  }

  size_t i = 0;
#define KW_EMIT_COUNTER(name, help)                                                                \
  {                                                                                                \
    auto f = family(statCounterFamilyName(#name), help, MetricType::Counter);                      \
    addCounter(&f, {}, static_cast<double>(t->stats[i++]));                                        \
    out.push_back(std::move(f));                                                                   \
  }
  KW_WORKER_COUNTERS(KW_EMIT_COUNTER)
#undef KW_EMIT_COUNTER

  auto gauge = [&](const char* name, const char* help, double v,
                   std::vector<ClientMetric::Label> labels = {}) {
    auto f = family(name, help, MetricType::Gauge);
    addGauge(&f, std::move(labels), v);
    out.push_back(std::move(f));
  };
  gauge("keywarden_clients_connected", "Client connections open now.",
        static_cast<double>(t->clients_connected));
  gauge("keywarden_upstream_connected", "Upstream connections open now.",
        static_cast<double>(t->upstream_connected));
  gauge("keywarden_upstream_inflight", "Requests sent upstream and not answered yet.",
        static_cast<double>(t->upstream_inflight));
  gauge("keywarden_upstream_up", "1 when the proxy can reach its upstream Redis, else 0.",
        source_->upstreamUp() ? 1 : 0);
  {
    // Per upstream node (a cluster's masters and replicas; one Redis is one node).
    const std::vector<std::string> nodes = source_->nodeNames();
    auto requests = family("keywarden_upstream_node_requests_total",
                           "Commands sent to each upstream node.", MetricType::Counter);
    auto replies = family("keywarden_upstream_node_replies_total",
                          "Replies read from each upstream node.", MetricType::Counter);
    auto rtt = family("keywarden_upstream_node_rtt_seconds_total",
                      "Round trips of those replies, summed (divide by replies for the mean).",
                      MetricType::Counter);
    auto failures = family("keywarden_upstream_node_link_failures_total",
                           "Links to each upstream node that failed (refused, lost, timed out).",
                           MetricType::Counter);
    for (size_t n = 0; n < nodes.size() && n < WorkerStats::kNodeStats; ++n) {
      const std::vector<ClientMetric::Label> label = {{"node", sanitizeLabel(nodes[n])}};
      addCounter(&requests, label, static_cast<double>(t->nodes[n].requests));
      addCounter(&replies, label, static_cast<double>(t->nodes[n].replies));
      addCounter(&rtt, label, static_cast<double>(t->nodes[n].rtt_ns) / 1e9);
      addCounter(&failures, label, static_cast<double>(t->nodes[n].link_failures));
    }
    out.push_back(std::move(requests));
    out.push_back(std::move(replies));
    out.push_back(std::move(rtt));
    out.push_back(std::move(failures));
  }
  gauge("keywarden_uptime_seconds", "Seconds since the proxy started.", source_->uptimeSeconds());
  gauge("keywarden_build_info", "Always 1; the version is a label.", 1,
        {{"version", sanitizeLabel(version_)}});
  source_->appendFeatureFamilies(ns_labels, &out);
  return out;
}

std::string MetricsCollector::serialize() const {
  return prometheus::TextSerializer().Serialize(Collect());
}

}  // namespace kw

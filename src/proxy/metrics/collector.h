// Turns the workers' stats shards into Prometheus metric families at scrape time.
//
// The collector owns nothing: it asks a MetricsSource (implemented by the server) for the
// shards and for the label names of the moment, sums the shards, and maps indexes to names.
// Every label value comes from the command table, the configured namespaces or a fixed enum, so
// the number of series is bounded whatever the clients send; a key never becomes a label.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <string>
#include <vector>

#include "proxy/metrics/request_metrics.h"
#include "proxy/stats.h"

namespace kw {

// What the collector needs from the running proxy. Called on the scrape thread (the main loop)
// while the workers run, so every method must be safe against them: the shards are read with
// relaxed loads, the rest is the implementer's business.
struct MetricsSource {
  using ShardFn = std::function<void(const WorkerStats&, const RequestMetrics&)>;
  virtual ~MetricsSource() = default;
  // Calls fn once per worker with that worker's two shards.
  virtual void forEachShard(const ShardFn& fn) const = 0;
  // names[i] labels command index i (the command table's row order); indexes without a name,
  // or with an empty one, are labelled "other".
  virtual std::vector<std::string> commandNames() const = 0;
  // names[i] labels namespace counter id i (CompiledPolicy::counterNames: stable across reloads).
  virtual std::vector<std::string> namespaceNames() const = 0;
  // Whether the proxy can reach its upstream now (keywarden_upstream_up, /healthz).
  virtual bool upstreamUp() const = 0;
  virtual double uptimeSeconds() const = 0;
  // names[i] labels upstream node id i (the topology's nodes now: "host:port").
  virtual std::vector<std::string> nodeNames() const { return {}; }
  // The features' own families (feature.h), appended as they are; `ns_labels` as the
  // collector labels namespace slots.
  virtual void appendFeatureFamilies(const std::vector<std::string>& /*ns_labels*/,
                                     std::vector<prometheus::MetricFamily>* /*out*/) const {}
};

class MetricsCollector : public prometheus::Collectable {
public:
  // `source` must outlive the collector.
  MetricsCollector(const MetricsSource* source, std::string version);

  std::vector<prometheus::MetricFamily> Collect() const override;
  // Collect() in the Prometheus text exposition format 0.0.4.
  std::string serialize() const;

private:
  const MetricsSource* source_;
  std::string version_;
};

// The family name of a WorkerStats counter: "keywarden_" + name + "_total", with a name that
// already ends in "_total" not doubled and names taken by the collector's own families renamed.
std::string statCounterFamilyName(std::string_view counter_name);

}  // namespace kw

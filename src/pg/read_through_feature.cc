#include "pg/read_through_feature.h"

#include "common/config.h"
#include "pg/read_through_hub.h"
#include "pg/read_through_metrics.h"
#include "proxy/request_stage.h"
#include "proxy/worker.h"

namespace kw {

ReadThroughFeature::ReadThroughFeature(const PgConfig& config)
    : hub_(std::make_shared<pg::ReadThroughHub>(config)) {}

ReadThroughFeature::~ReadThroughFeature() = default;

void ReadThroughFeature::startWorker(Worker& worker) {
  std::unique_ptr<RequestStage> stage = hub_->makeStage(&worker);
  worker.setMissFiller(dynamic_cast<MissFiller*>(stage.get()));
  worker.addStage(std::move(stage));
}

void ReadThroughFeature::keywardenHelp(std::vector<std::string>* lines) const {
  lines->emplace_back("SOURCES");
  lines->emplace_back(
      "    State of each PostgreSQL source: connections, circuit, queries, errors.");
  lines->emplace_back("WARM <namespace> <id> [<id> ...]");
  lines->emplace_back("    Fill read-through keys from PostgreSQL ahead of traffic (id: the key's");
  lines->emplace_back("    parameter values, joined by ':' when there are several).");
}

void ReadThroughFeature::appendInfo(std::string_view section, const Config&, const CompiledPolicy&,
                                    std::string* out) const {
  if (section.empty() || section == "readthrough") {
    *out += hub_->infoSection();
    *out += "\r\n";
  }
}

void ReadThroughFeature::appendMetrics(const std::vector<std::string>&,
                                       std::vector<prometheus::MetricFamily>* out) const {
  pg::appendReadThroughMetrics(*hub_, out);
}

void ReadThroughFeature::keepOnReload(const Config& current, Config* next,
                                      std::vector<std::string>* needs_restart) const {
  if (!(next->pg == current.pg)) {
    needs_restart->push_back("postgres/read_through");
    next->pg = current.pg;
  }
}

}  // namespace kw

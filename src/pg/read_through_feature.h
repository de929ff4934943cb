// PostgreSQL read-through as a feature (proxy/feature.h): the read-through stage of every worker
// (also the MissFiller the near cache hands nils to), INFO's "readthrough" section, its metric
// families, and the sources that stay as they are until a restart. It owns what the workers share
// (ReadThroughHub). KEYWARDEN SOURCES and WARM are answered by the stage itself.
#pragma once

#include <memory>

#include "proxy/feature.h"

namespace kw {

struct PgConfig;
namespace pg {
class ReadThroughHub;
}

class ReadThroughFeature final : public Feature {
public:
  explicit ReadThroughFeature(const PgConfig& config);
  ~ReadThroughFeature() override;
  std::string_view name() const override { return "readthrough"; }
  void startWorker(Worker& worker) override;
  void keywardenHelp(std::vector<std::string>* lines) const override;
  void appendInfo(std::string_view section, const Config& config, const CompiledPolicy& policy,
                  std::string* out) const override;
  std::vector<std::string_view> infoSections() const override { return {"readthrough"}; }
  void appendMetrics(const std::vector<std::string>& ns_labels,
                     std::vector<prometheus::MetricFamily>* out) const override;
  void keepOnReload(const Config& current, Config* next,
                    std::vector<std::string>* needs_restart) const override;

private:
  std::shared_ptr<pg::ReadThroughHub> hub_;
};

}  // namespace kw

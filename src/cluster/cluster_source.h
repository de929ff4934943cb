// The cluster mode's topology source (proxy/topology_source.h): reads the slot map from the
// cluster (CLUSTER SHARDS, or CLUSTER SLOTS before Redis 7) on a thread of its own, with blocking
// queries (node_query.h), and publishes it as a Topology snapshot whenever routing changed.
//
//   when                                           what
//   start                                          each seed in turn until one answers (a seed
//                                                  that is down is skipped; none answering is
//                                                  not fatal: workers refuse requests with the
//                                                  reason until one does)
//   every topology_refresh_ms                      read again
//   a worker asks (MOVED, a lost or refused link,  read again at once, at most every
//   CLUSTERDOWN / TRYAGAIN, an unknown node)       kMinIntervalMs
//
// A refresh asks the masters it knows first, then the seeds. Node host names are resolved here.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/slot_map.h"
#include "common/config.h"
#include "proxy/topology.h"
#include "proxy/topology_source.h"

namespace kw::cluster {

class ClusterSource final : public TopologySource {
public:
  explicit ClusterSource(const UpstreamConfig& upstream);
  ~ClusterSource() override;

  bool start(SharedState* shared, std::string* error) override;
  void stop() override;
  void refresh(RefreshCause cause) override;
  std::string describe() const override;
  std::string name() const override;

  static constexpr uint64_t kMinIntervalMs = 100;

private:
  void run();
  // One read of the map and, when routing changed, a new snapshot.
  void readMap(RefreshCause cause);
  bool fetch(const std::string& host, uint16_t port, std::unique_ptr<const SlotMap>* map,
             std::string* error);
  std::shared_ptr<const Topology> build(const SlotMap& map, const std::string& seed_host,
                                        std::string* error);

  const UpstreamConfig upstream_;
  SharedState* shared_ = nullptr;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool requested_ = false;
  RefreshCause requested_cause_ = RefreshCause::kPeriodic;
  // The thread's own (read under mu_ by describe()).
  std::unique_ptr<const SlotMap> map_;
  std::shared_ptr<const Topology> topology_;
  uint64_t generation_ = 0;
  uint64_t refreshes_ = 0;
  uint64_t changes_ = 0;
  uint64_t failures_ = 0;
  uint64_t last_refresh_ms_ = 0;
  RefreshCause last_cause_ = RefreshCause::kStart;
  std::string last_error_;
  std::string last_source_;  // the node the map was read from
};

}  // namespace kw::cluster

// The one place where workers share mutable state, each piece thread-safe on its own:
// - the config, command-table and topology snapshots: immutable objects, swapped whole under a
//   mutex and announced through a generation counter, so a worker takes the lock only when
//   something changed (checked once per loop turn, never per request);
// - the client count (max_clients is global) and the client id sequence: atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <vector>

#include "common/cli.h"
#include "common/config.h"
#include "policy/auth_throttle.h"
#include "proxy/command_table.h"
#include "proxy/feature.h"
#include "proxy/slowlog.h"
#include "proxy/tls_runtime.h"
#include "proxy/topology.h"

namespace kw {

class CompiledPolicy;
class TopologySource;
class Worker;

class SharedState {
public:
  SharedState(std::shared_ptr<const Config> config, std::shared_ptr<const CompiledPolicy> policy)
      : config_(std::move(config)), policy_(std::move(policy)),
        commands_(std::shared_ptr<const CommandTable>(&CommandTable::builtin(),
                                                      [](const CommandTable*) {})) {}

  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  void snapshot(std::shared_ptr<const Config>* config,
                std::shared_ptr<const CompiledPolicy>* policy,
                std::shared_ptr<const CommandTable>* commands,
                std::shared_ptr<const Topology>* topology) const {
    std::lock_guard<std::mutex> lock(mu_);
    *config = config_;
    *policy = policy_;
    *commands = commands_;
    *topology = topology_;
  }
  void snapshot(std::shared_ptr<const Config>* config,
                std::shared_ptr<const CompiledPolicy>* policy,
                std::shared_ptr<const CommandTable>* commands) const {
    std::lock_guard<std::mutex> lock(mu_);
    *config = config_;
    *policy = policy_;
    *commands = commands_;
  }
  // The config and the policy compiled from it change together.
  void publishConfig(std::shared_ptr<const Config> config,
                     std::shared_ptr<const CompiledPolicy> policy) {
    std::lock_guard<std::mutex> lock(mu_);
    config_ = std::move(config);
    policy_ = std::move(policy);
    generation_.fetch_add(1, std::memory_order_release);
  }
  void publishCommands(std::shared_ptr<const CommandTable> commands) {
    std::lock_guard<std::mutex> lock(mu_);
    commands_ = std::move(commands);
    generation_.fetch_add(1, std::memory_order_release);
  }
  std::shared_ptr<const Config> config() const {
    std::lock_guard<std::mutex> lock(mu_);
    return config_;
  }
  // From the topology source's thread (topology_source.h).
  void publishTopology(std::shared_ptr<const Topology> topology) {
    std::lock_guard<std::mutex> lock(mu_);
    topology_ = std::move(topology);
    generation_.fetch_add(1, std::memory_order_release);
  }
  std::shared_ptr<const Topology> topology() const {
    std::lock_guard<std::mutex> lock(mu_);
    return topology_;
  }

  // Admission against max_clients: true if the client may stay.
  bool admitClient(uint32_t max_clients) {
    uint32_t n = clients_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n <= max_clients)
      return true;
    clients_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  void releaseClient() { clients_.fetch_sub(1, std::memory_order_relaxed); }
  uint32_t clients() const { return clients_.load(std::memory_order_relaxed); }
  uint64_t nextClientId() { return next_client_id_.fetch_add(1, std::memory_order_relaxed); }

  // Where the topology comes from (the one Redis, a cluster's seeds); set before the workers
  // start, outlives them. Workers ask it to look again (a MOVED, a lost node).
  TopologySource* topology_source = nullptr;
  std::string upstream_name;  // "host:port" (a cluster: "cluster host:port,...") for operators
  // Reported in HELLO; learned from the upstream's INFO once it answers.
  std::atomic<bool> upstream_version_known{false};
  // Redis's busy-reply-threshold (lua-time-limit before 7.0), or upstream.busy_threshold_ms:
  // past it Redis answers other connections -BUSY while a script runs (LinkPool::stuck).
  std::atomic<uint32_t> busy_threshold_ms{5000};
  char upstream_version[32] = "7.2.0";
  uint64_t start_time_ms = 0;
  int64_t start_unix_s = 0;

  SlowLog slowlog;
  AuthThrottle auth_throttle;
  ClientTlsRuntime tls;  // certificates of new TLS connections, their counters (tls_runtime.h)
  std::vector<Worker*> workers;  // fixed after startup
  // The features (feature.h), in chain order; fixed before the workers start. Each owns what its
  // workers share.
  Features features;
  CliOptions cli;        // re-applied on every reload
  std::mutex reload_mu;  // one reload at a time (SIGHUP and KEYWARDEN RELOAD)
  std::atomic<uint64_t> reloads{0};
  std::atomic<uint64_t> reload_failures{0};

private:
  mutable std::mutex mu_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<const CompiledPolicy> policy_;
  std::shared_ptr<const CommandTable> commands_;
  std::shared_ptr<const Topology> topology_ = Topology::empty(0);
  std::atomic<uint64_t> generation_{1};
  std::atomic<uint32_t> clients_{0};
  std::atomic<uint64_t> next_client_id_{1};
};

}  // namespace kw

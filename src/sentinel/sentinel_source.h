// The sentinel mode's topology source (proxy/topology_source.h): the master the sentinels name,
// published as a one-node Topology (Topology::successor: a new master is a new node, so the old
// master's pools are retired and what was in flight there gets the lost error, never a resend).
//
//   when                                          what
//   start                                         every sentinel asked SENTINEL
//                                                 GET-MASTER-ADDR-BY-NAME until one names the
//                                                 master; none within kStartupBoundMs: startup
//                                                 fails, naming each sentinel's error
//   +promoted-slave or +switch-master for         followed at once (one subscriber thread per
//   master_name, on any sentinel's Pub/Sub        sentinel, reconnecting; a lookup after every
//                                                 (re)subscription, for what it missed); the
//                                                 leader's +promoted-slave comes first, as soon
//                                                 as the new master is one
//   a worker asks (a lost link, ROLE not master,  every sentinel asked, the answer chosen by
//   -READONLY) and every kPeriodicMs              MasterChoice (master_choice.h); at most every
//                                                 kMinIntervalMs
//
// Every new data link sends ROLE after its handshake (linkCheckCommand): one that reached a
// replica is closed and a lookup asked. A -READONLY reply closes its link the same way. While
// there is no usable master, requests wait up to the request timeout (waitForTopology).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "proxy/topology.h"
#include "proxy/topology_source.h"
#include "sentinel/master_choice.h"

namespace kw::sentinel {

class SentinelSource final : public TopologySource {
public:
  explicit SentinelSource(const UpstreamConfig& upstream);
  ~SentinelSource() override;

  bool start(SharedState* shared, std::string* error) override;
  void stop() override;
  void refresh(RefreshCause cause) override;
  std::string describe() const override;
  std::string name() const override;
  std::string_view linkCheckCommand() const override;
  bool linkCheckPasses(std::string_view reply, std::string* why) const override;
  bool staleNodeReply(std::string_view reply) const override;
  bool waitForTopology() const override { return true; }

  uint64_t failoversSeen() const override { return failovers_.load(std::memory_order_relaxed); }

  static constexpr uint64_t kMinIntervalMs = 100;
  static constexpr uint64_t kPeriodicMs = 5000;
  static constexpr uint64_t kStartupBoundMs = 10000;

private:
  void run();
  void subscribe(size_t index);
  // Asks every sentinel; the answers go to MasterChoice. False when none answered.
  bool lookup(RefreshCause cause, std::string* error);
  // Under mu_: publishes the chosen master when the topology does not have it yet.
  void apply(MasterChoice::Outcome outcome, RefreshCause cause, const std::string& via);
  bool stopping() const { return stopping_flag_.load(std::memory_order_relaxed); }

  const UpstreamConfig upstream_;
  SharedState* shared_ = nullptr;
  std::thread thread_;
  std::vector<std::thread> subscribers_;
  std::atomic<bool> stopping_flag_{false};
  std::atomic<uint64_t> failovers_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool requested_ = false;
  RefreshCause requested_cause_ = RefreshCause::kPeriodic;
  // Under mu_.
  MasterChoice choice_;
  std::shared_ptr<const Topology> topology_;
  uint64_t generation_ = 0;
  uint64_t lookups_ = 0;
  uint64_t lookup_failures_ = 0;
  uint64_t switch_messages_ = 0;
  uint64_t last_lookup_ms_ = 0;
  uint64_t last_change_ms_ = 0;
  RefreshCause last_cause_ = RefreshCause::kStart;
  std::string last_error_;
  std::string last_via_;                 // the sentinel that told the current master
  std::vector<bool> subscribed_;         // per sentinel: its +switch-master subscription is live
  std::vector<std::string> sub_errors_;  // per sentinel: why it is not
};

}  // namespace kw::sentinel

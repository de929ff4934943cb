#include <cstring>

#include "common/config_loader.h"
#include "common/net_address.h"
#include "proxy/shared_state.h"
#include "proxy/topology_source.h"

namespace kw {

const char* refreshCauseName(RefreshCause cause) {
  switch (cause) {
  case RefreshCause::kStart:
    return "start";
  case RefreshCause::kPeriodic:
    return "periodic";
  case RefreshCause::kMoved:
    return "moved";
  case RefreshCause::kNodeLost:
    return "node_lost";
  case RefreshCause::kClusterDown:
    return "clusterdown";
  case RefreshCause::kUnknownNode:
    return "unknown_node";
  case RefreshCause::kNotMaster:
    return "not_master";
  case RefreshCause::kReadonly:
    return "readonly";
  case RefreshCause::kAnnounced:
    return "announced";
  }
  return "?";
}

namespace {

class StandaloneSource final : public TopologySource {
public:
  explicit StandaloneSource(HostPort address) : address_(std::move(address)) {}

  bool start(SharedState* shared, std::string* error) override {
    // Resolved once; a name that does not resolve is a startup error, not a runtime surprise.
    SocketAddress resolved;
    std::string reason;
    if (!resolveHostPort(address_, AddressUse::kConnect, &resolved, &reason)) {
      *error = "cannot resolve upstream " + name() + ": " + reason;
      return false;
    }
    shared->publishTopology(Topology::single(name(), resolved.storage, 1));
    return true;
  }
  void stop() override {}
  void refresh(RefreshCause) override {}  // one address: nothing to look up again
  std::string describe() const override { return "mode:standalone\r\nupstream:" + name() + "\r\n"; }
  std::string name() const override { return formatHostPort(address_); }

private:
  HostPort address_;
};

}  // namespace

std::unique_ptr<TopologySource> makeStandaloneSource(const UpstreamConfig& upstream) {
  return std::make_unique<StandaloneSource>(upstream.address);
}

}  // namespace kw

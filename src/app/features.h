// The composition root: the one place that knows every feature. It makes them from the
// configuration, in the order of the request chain (each feature's gate and stage run in this
// order), and main() hands them to the server. The core (src/proxy/) includes no feature header.
#pragma once

#include "common/config.h"
#include "proxy/feature.h"
#include "proxy/topology_source.h"

namespace kw {

Features makeFeatures(const Config& config);
// The upstream's topology source for the configured mode (standalone, cluster, sentinel).
std::unique_ptr<TopologySource> makeTopologySource(const Config& config);

}  // namespace kw

// KEYWARDEN CLUSTER: the cluster as this keywarden sees it, for an operator with redis-cli.
//
//   the topology source's state      mode, seeds, generation, masters, slots served, refreshes
//                                    (count, changes, failures), the last one's age, cause, error
//   redirects and splits             MOVED, ASK, TRYAGAIN followed; commands split; fan-outs
//   one line per node                role, its master (replicas), slot ranges, requests, replies,
//                                    mean round trip, failed links
//   one line per worker and node     links ready / connecting / down, in flight, retired
#pragma once

#include <string>
#include <vector>

namespace kw {

class Worker;

// Runs on each worker's loop: that worker's links, by node, one line per node.
std::string clusterWorkerLines(Worker& worker);
// On the asking worker, with every worker's lines: the whole reply (an array of lines).
std::string clusterReport(Worker& worker, const std::vector<std::string>& worker_lines);
// INFO keywarden's per-node lines (any upstream): upstream_node_<id>:name=...,role=...,requests=...
void appendNodeInfo(Worker& worker, std::string* out);

}  // namespace kw

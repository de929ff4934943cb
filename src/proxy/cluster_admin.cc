#include "proxy/cluster_admin.h"

#include <algorithm>
#include <map>

#include "proxy/resp_writer.h"
#include "proxy/shared_state.h"
#include "proxy/topology.h"
#include "proxy/topology_source.h"
#include "proxy/upstream_conn.h"
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

namespace kw {
namespace {

// "0-5460,10923-10923": the slots `node` serves in `t`.
std::string slotRanges(const Topology& t, NodeId node) {
  std::string out;
  uint32_t start = kSlotCount;
  for (uint32_t s = 0; s <= kSlotCount; ++s) {
    const bool mine = s < kSlotCount && t.nodeForSlot(static_cast<uint16_t>(s)) == node;
    if (mine && start == kSlotCount)
      start = s;
    if (!mine && start != kSlotCount) {
      if (!out.empty())
        out += ',';
      out += std::to_string(start);
      if (s - 1 != start)
        out.append("-").append(std::to_string(s - 1));
      start = kSlotCount;
    }
  }
  return out.empty() ? "-" : out;
}

void splitLines(const std::string& text, const std::string& prefix,
                std::vector<std::string>* lines) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos)
      eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (!line.empty())
      lines->push_back(prefix + line);
    pos = eol + 1;
  }
}

// Calls `line` with each node's fields ("node=... role=... requests=..."), separated by `sep`.
template <typename Fn> void forEachNode(Worker& worker, Fn&& line, char sep) {
  uint64_t requests[WorkerStats::kNodeStats] = {}, replies[WorkerStats::kNodeStats] = {},
           rtt[WorkerStats::kNodeStats] = {}, failures[WorkerStats::kNodeStats] = {};
  for (Worker* w : worker.shared().workers) {
    const WorkerStats& s = w->stats();
    for (size_t n = 0; n < WorkerStats::kNodeStats; ++n) {
      requests[n] += s.nodes[n].requests.get();
      replies[n] += s.nodes[n].replies.get();
      rtt[n] += s.nodes[n].rtt_ns.get();
      failures[n] += s.nodes[n].link_failures.get();
    }
  }
  const Topology& t = worker.topology();
  const std::string s(1, sep);
  for (size_t i = 0; i < t.nodes().size(); ++i) {
    const UpstreamNode& n = t.node(static_cast<NodeId>(i));
    if (n.gone)
      continue;
    std::string f = "node=" + n.name + s + "role=" + (n.master ? "master" : "replica");
    if (!n.master && n.master_of != kNoNode)
      f += s + "master=" + t.node(n.master_of).name;
    if (n.master && t.cluster()) {
      std::string ranges = slotRanges(t, static_cast<NodeId>(i));
      if (sep == ',')  // INFO's fields are comma-separated: the ranges are space-separated there
        std::replace(ranges.begin(), ranges.end(), ',', ' ');
      f += s + "slots=" + ranges;
    }
    if (i < WorkerStats::kNodeStats)
      f += s + "requests=" + std::to_string(requests[i]) + s +
           "replies=" + std::to_string(replies[i]) + s +
           "rtt_mean_us=" + std::to_string(replies[i] ? rtt[i] / replies[i] / 1000 : 0) + s +
           "link_failures=" + std::to_string(failures[i]);
    line(f);
  }
}

}  // namespace

void appendNodeInfo(Worker& worker, std::string* out) {
  size_t i = 0;
  forEachNode(
      worker,
      [&](const std::string& fields) {
        out->append("upstream_node_").append(std::to_string(i++)).append(":");
        out->append(fields).append("\r\n");
      },
      ',');
}

std::string clusterWorkerLines(Worker& worker) {
  struct Links {
    uint32_t ready = 0, connecting = 0, down = 0, inflight = 0;
  };
  std::map<std::string, Links> by_node;
  worker.upstreams().forEach(
      [](UpstreamConn* c, void* arg) {
        Links& l = (*static_cast<std::map<std::string, Links>*>(arg))[c->pool()->name()];
        switch (c->state()) {
        case UpstreamConn::State::kReady:
          ++l.ready;
          break;
        case UpstreamConn::State::kConnecting:
          ++l.connecting;
          break;
        default:
          ++l.down;
          break;
        }
        l.inflight += static_cast<uint32_t>(c->inflight());
      },
      &by_node);
  std::string out;
  for (const auto& [name, l] : by_node)
    out += "node=" + name + " links_ready=" + std::to_string(l.ready) +
           " links_connecting=" + std::to_string(l.connecting) +
           " links_down=" + std::to_string(l.down) + " inflight=" + std::to_string(l.inflight) +
           "\n";
  return out;
}

std::string clusterReport(Worker& worker, const std::vector<std::string>& worker_lines) {
  SharedState& shared = worker.shared();
  std::vector<std::string> lines;
  if (shared.topology_source)
    splitLines(shared.topology_source->describe(), "", &lines);
  uint64_t moved = 0, ask = 0, tryagain = 0, split = 0, fanout = 0;
  for (Worker* w : shared.workers) {
    const WorkerStats& s = w->stats();
    moved += s.cluster_moved.get();
    ask += s.cluster_ask.get();
    tryagain += s.cluster_tryagain.get();
    split += s.cluster_split.get();
    fanout += s.cluster_fanout.get();
  }
  lines.push_back("moved:" + std::to_string(moved));
  lines.push_back("ask:" + std::to_string(ask));
  lines.push_back("tryagain:" + std::to_string(tryagain));
  lines.push_back("split_commands:" + std::to_string(split));
  lines.push_back("fanout_commands:" + std::to_string(fanout));
  forEachNode(
      worker, [&](const std::string& fields) { lines.push_back(fields); }, ' ');
  for (size_t w = 0; w < worker_lines.size(); ++w)
    splitLines(worker_lines[w], "worker=" + std::to_string(w) + " ", &lines);
  std::string out;
  resp::arrayHeader(&out, static_cast<int64_t>(lines.size()));
  for (const std::string& l : lines)
    resp::bulk(&out, l);
  return out;
}

}  // namespace kw

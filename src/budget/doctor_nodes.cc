#include "budget/doctor_nodes.h"

#include <memory>

#include "proxy/resp_writer.h"
#include "proxy/topology.h"
#include "proxy/upstream_client.h"
#include "proxy/worker.h"

namespace kw {
namespace {

// BudgetRedis on one node: every command goes there, whatever it is.
class NodeRedis final : public BudgetRedis {
public:
  NodeRedis(UpstreamClient* client, NodeId node) : client_(client), node_(node) {}
  void send(std::span<const std::string_view> args, Done done) override {
    std::string raw;
    resp::arrayHeader(&raw, static_cast<int64_t>(args.size()));
    for (std::string_view a : args)
      resp::bulk(&raw, a);
    client_->sendRawTo(node_, raw, std::move(done));
  }

private:
  UpstreamClient* client_;
  NodeId node_;
};

struct Gathered {
  std::vector<std::vector<std::string>> findings;  // per master
  size_t left = 0;
  std::function<void(std::vector<std::string>)> done;
  std::vector<std::unique_ptr<NodeRedis>> redis;  // alive until every reply is in
};

}  // namespace

void runDoctorOnMasters(Worker* worker, BudgetRedis* one, DoctorFacts facts,
                        std::function<void(std::vector<std::string>)> done) {
  const Topology& topology = worker->topology();
  if (!topology.cluster() || topology.masters().empty()) {
    runDoctor(one, std::move(facts), std::move(done));
    return;
  }
  const std::vector<NodeId> masters = topology.masters();
  auto g = std::make_shared<Gathered>();
  g->findings.resize(masters.size());
  g->left = masters.size();
  g->done = std::move(done);
  facts.cluster = true;
  facts.masters = static_cast<uint32_t>(masters.size());
  for (size_t i = 0; i < masters.size(); ++i) {
    g->redis.push_back(std::make_unique<NodeRedis>(&worker->upstreamClient(), masters[i]));
    const std::string name = topology.node(masters[i]).name;
    runDoctor(g->redis.back().get(), facts, [g, i, name](std::vector<std::string> findings) {
      for (std::string& f : findings)
        g->findings[i].push_back("node " + name + ": " + f);
      if (--g->left > 0)
        return;
      std::vector<std::string> all;
      for (auto& node : g->findings)
        all.insert(all.end(), node.begin(), node.end());
      auto done = std::move(g->done);
      done(std::move(all));  // may free g (and the NodeRedis objects) with the last capture
    });
  }
}

}  // namespace kw

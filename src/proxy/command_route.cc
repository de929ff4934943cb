#include "proxy/command_route.h"

#include <charconv>
#include <memory>

#include "cluster/fan_out.h"
#include "cluster/key_slot.h"
#include "cluster/scan_cursor.h"
#include "proxy/resp_writer.h"
#include "proxy/topology.h"

namespace kw {

std::string encodeRequest(std::span<const std::string_view> args) {
  std::string out;
  resp::arrayHeader(&out, static_cast<int64_t>(args.size()));
  for (std::string_view a : args)
    resp::bulk(&out, a);
  return out;
}

bool routeClusterScan(const Topology& topology, std::span<const std::string_view> args,
                      CommandRoute* route) {
  std::vector<std::string> names;
  for (NodeId m : topology.masters())
    names.push_back(topology.node(m).name);
  auto codec = std::make_shared<cluster::ScanCursorCodec>(names);
  const auto pos = args.size() > 1 ? codec->decode(args[1]) : std::nullopt;
  if (!pos) {
    route->kind = CommandRoute::Kind::kError;
    route->error = cluster::kInvalidCursorError;
    return false;
  }
  std::vector<std::string_view> sent(args.begin(), args.end());
  const std::string node_cursor = std::to_string(pos->node_cursor);
  sent[1] = node_cursor;
  route->kind = CommandRoute::Kind::kParts;
  route->parts.push_back({topology.masters()[pos->master], 0xffff, encodeRequest(sent)});
  const uint16_t master = pos->master;
  route->merge = [codec, master](std::span<const cluster::PartOutcome> outcomes) -> std::string {
    // *2 $<n> <cursor> <keys array>: the cursor becomes the walk's own.
    const std::string_view reply = outcomes[0].reply;
    if (reply.size() < 5 || reply.substr(0, 4) != "*2\r\n" || reply[4] != '$')
      return std::string(reply);  // an error, as the node gave it
    const size_t eol = reply.find("\r\n", 4);
    size_t len = 0;
    if (eol == std::string_view::npos)
      return "-ERR unexpected SCAN reply from the cluster\r\n";
    auto r = std::from_chars(reply.data() + 5, reply.data() + eol, len);
    if (r.ec != std::errc() || eol + 2 + len + 2 > reply.size())
      return "-ERR unexpected SCAN reply from the cluster\r\n";
    const std::string_view cursor = reply.substr(eol + 2, len);
    uint64_t node_next = 0;
    auto c = std::from_chars(cursor.data(), cursor.data() + cursor.size(), node_next);
    if (c.ec != std::errc())
      return "-ERR unexpected SCAN reply from the cluster\r\n";
    const auto next = codec->next(master, node_next);
    if (!next)
      return "-ERR the cluster's SCAN cursor does not fit keywarden's cursor\r\n";
    std::string out = "*2\r\n";
    resp::bulk(&out, *next);
    out.append(reply.substr(eol + 2 + len + 2));
    return out;
  };
  return true;
}

CommandRoute routeCommand(const Topology& topology,
                          const std::function<NodeId(uint16_t)>& node_for_slot, uint64_t epoch,
                          const CommandInfo* cmd, std::span<const std::string_view> args,
                          std::string_view raw) {
  CommandRoute route;
  route.dest.epoch = epoch;
  if (!topology.cluster() || !cmd || args.empty())
    return route;
  if (cmd->id == CmdId::kScan) {
    routeClusterScan(topology, args, &route);
    return route;
  }
  if (const auto fan = cluster::fanOutOf(cmd, args)) {
    route.kind = CommandRoute::Kind::kParts;
    std::vector<std::string> names;
    for (NodeId m : topology.masters()) {
      route.parts.push_back({m, 0xffff, std::string(raw)});
      names.push_back(topology.node(m).name);
    }
    route.merge = [fan = *fan, names](std::span<const cluster::PartOutcome> outcomes) {
      return cluster::mergeFanOut(fan, outcomes, [&](size_t i) { return names[i]; });
    };
    return route;
  }
  const cluster::SplitPlan plan =
      cluster::planCommand(cmd, args, [&](uint16_t slot) { return node_for_slot(slot); });
  switch (plan.kind) {
  case cluster::PlanKind::kNoKeys:
    return route;
  case cluster::PlanKind::kError:
    route.kind = CommandRoute::Kind::kError;
    route.error = plan.error;
    return route;
  case cluster::PlanKind::kSplit: {
    route.kind = CommandRoute::Kind::kParts;
    for (const cluster::SplitPart& p : plan.parts)
      route.parts.push_back({p.node, p.slot, p.request});
    auto shared_plan = std::make_shared<cluster::SplitPlan>(plan);
    std::vector<std::string> names;
    for (const UpstreamNode& n : topology.nodes())
      names.push_back(n.name);
    route.merge = [shared_plan, names](std::span<const cluster::PartOutcome> outcomes) {
      return cluster::mergeReplies(*shared_plan, outcomes, [&](uint16_t node) {
        return node < names.size() ? names[node] : std::string("?");
      });
    };
    return route;
  }
  case cluster::PlanKind::kOneSlot:
    break;
  }
  route.dest.node = node_for_slot(plan.slot);
  route.dest.slot_local = true;
  route.dest.hash_slot = plan.slot;
  if (route.dest.node == kNoNode) {
    route.kind = CommandRoute::Kind::kError;
    route.error = cluster::kSlotNotServedError;
  }
  return route;
}

}  // namespace kw

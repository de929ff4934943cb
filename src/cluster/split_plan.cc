#include "cluster/split_plan.h"

#include <charconv>
#include <unordered_map>

#include "cluster/key_slot.h"
#include "cluster/reply_parts.h"
#include "cluster/slot_map.h"
#include "proxy/reply_scanner.h"

namespace kw::cluster {
namespace {

struct Splittable {
  std::string_view name;  // lower case, as in the command table
  MergeKind merge;
  bool writes;
};

constexpr Splittable kSplittable[] = {
    {"mget", MergeKind::kValues, false}, {"mset", MergeKind::kOk, true},
    {"del", MergeKind::kSum, true},      {"unlink", MergeKind::kSum, true},
    {"exists", MergeKind::kSum, false},  {"touch", MergeKind::kSum, false},
};

const Splittable* splittable(const CommandInfo* cmd) {
  if (!cmd)
    return nullptr;
  for (const Splittable& s : kSplittable)
    if (s.name == cmd->name)
      return &s;
  return nullptr;
}

void appendBulk(std::string* out, std::string_view arg) {
  out->push_back('$');
  out->append(std::to_string(arg.size()));
  out->append("\r\n");
  out->append(arg);
  out->append("\r\n");
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
  return out;
}

}  // namespace

SplitPlan planCommand(const CommandInfo* cmd, std::span<const std::string_view> args,
                      const SlotToNode& node_of_slot) {
  SplitPlan plan;
  if (!cmd || args.empty())
    return plan;
  std::vector<int> keys;
  CommandTable::keyPositions(*cmd, args.size(), args.data(), &keys);
  if (keys.empty())
    return plan;
  // The common case (one key, or keys sharing a tag) ends here without another allocation.
  const uint16_t first_slot = keySlot(args[static_cast<size_t>(keys[0])]);
  size_t other = 1;
  while (other < keys.size() && keySlot(args[static_cast<size_t>(keys[other])]) == first_slot)
    ++other;
  if (other == keys.size()) {
    plan.kind = PlanKind::kOneSlot;
    plan.slot = first_slot;
    return plan;
  }
  const Splittable* split = splittable(cmd);
  plan.kind = PlanKind::kError;
  if (!split) {
    plan.error = kCrossSlotError;
    return plan;
  }
  // MSET's arity (-3) lets "MSET a 1 b" through; Redis refuses it before looking at slots.
  const bool pairs = split->merge == MergeKind::kOk;
  if (pairs && args.size() % 2 == 0) {
    plan.error = "-ERR wrong number of arguments for '" + std::string(cmd->name) + "' command\r\n";
    return plan;
  }
  plan.merge = split->merge;
  plan.writes = split->writes;
  plan.command = upper(cmd->name);
  std::vector<uint16_t> slots(keys.size(), first_slot);
  for (size_t i = other; i < keys.size(); ++i)
    slots[i] = keySlot(args[static_cast<size_t>(keys[i])]);
  // Parts in order of each slot's first key; each key's arguments in request order.
  std::vector<uint32_t> part_of_key(keys.size());
  std::vector<std::vector<size_t>> members;
  std::unordered_map<uint16_t, uint32_t> part_of_slot;
  for (size_t i = 0; i < keys.size(); ++i) {
    // A map, not a scan of the parts: an MGET of many keys over many slots stays linear.
    const auto [it, fresh] = part_of_slot.try_emplace(slots[i], uint32_t(plan.parts.size()));
    const uint32_t part = it->second;
    if (fresh) {
      SplitPart p;
      p.slot = slots[i];
      p.node = node_of_slot(slots[i]);
      if (p.node == SlotMap::kNoNode) {
        plan = SplitPlan();
        plan.kind = PlanKind::kError;
        plan.error = kSlotNotServedError;
        return plan;
      }
      plan.parts.push_back(std::move(p));
      members.emplace_back();
    }
    part_of_key[i] = part;
    members[part].push_back(i);
  }
  const size_t per_key = pairs ? 2 : 1;
  for (size_t part = 0; part < plan.parts.size(); ++part) {
    SplitPart& p = plan.parts[part];
    p.keys = static_cast<uint32_t>(members[part].size());
    std::string& out = p.request;
    out.push_back('*');
    out.append(std::to_string(1 + p.keys * per_key));
    out.append("\r\n");
    appendBulk(&out, args[0]);
    for (const size_t i : members[part]) {
      const auto at = static_cast<size_t>(keys[i]);
      appendBulk(&out, args[at]);
      if (pairs)
        appendBulk(&out, args[at + 1]);
    }
  }
  if (plan.merge == MergeKind::kValues) {
    plan.positions.resize(keys.size());
    std::vector<uint32_t> filled(plan.parts.size(), 0);
    for (size_t i = 0; i < keys.size(); ++i)
      plan.positions[i] = {part_of_key[i], filled[part_of_key[i]]++};
  }
  plan.kind = PlanKind::kSplit;
  return plan;
}

namespace {

std::string partError(const SplitPlan& plan, std::string_view code_and_text, uint16_t node,
                      const std::function<std::string(uint16_t)>& node_name, size_t others) {
  std::string out(1, '-');
  out += oneLine(code_and_text) + " (" + plan.command + " part on node " + oneLine(node_name(node));
  if (others > 0)
    out += ", and " + std::to_string(others) + " more part" + (others > 1 ? "s" : "") + " failed";
  if (plan.writes)
    out += "; some keys may have been changed";
  out += ")\r\n";
  return out;
}

}  // namespace

std::string mergeReplies(const SplitPlan& plan, std::span<const PartOutcome> outcomes,
                         const std::function<std::string(uint16_t node)>& node_name) {
  if (plan.kind != PlanKind::kSplit || outcomes.size() != plan.parts.size())
    return "-ERR internal error: split replies do not match their plan\r\n";
  std::vector<std::vector<std::string_view>> values(outcomes.size());
  int64_t sum = 0;
  // The first part that failed is the one named; the others are counted.
  size_t failed = 0;
  size_t first_failed = 0;
  std::string first_problem;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const PartOutcome& o = outcomes[i];
    std::string problem;
    if (o.reply.empty()) {
      problem = "UPSTREAMDOWN " +
                std::string(o.failure.empty() ? std::string_view("no reply") : o.failure);
    } else if (const std::string_view err = errorText(o.reply); !err.empty()) {
      problem = std::string(err);
    } else {
      bool ok = false;
      switch (plan.merge) {
      case MergeKind::kValues:
        ok = arrayElements(o.reply, plan.parts[i].keys, &values[i]);
        break;
      case MergeKind::kOk:
        ok = o.reply == "+OK\r\n";
        break;
      case MergeKind::kSum: {
        int64_t n = 0;
        ok = readInteger(o.reply, &n) && n >= 0 && n <= plan.parts[i].keys;
        sum += ok ? n : 0;
        break;
      }
      case MergeKind::kNone:
        break;
      }
      if (!ok)
        problem = "ERR unexpected reply";
    }
    if (problem.empty())
      continue;
    if (failed++ == 0) {
      first_failed = i;
      first_problem = std::move(problem);
    }
  }
  if (failed > 0)
    return partError(plan, first_problem, plan.parts[first_failed].node, node_name, failed - 1);
  switch (plan.merge) {
  case MergeKind::kValues: {
    std::string out = respLine('*', static_cast<int64_t>(plan.positions.size()));
    for (const SplitPlan::Position& p : plan.positions)
      out.append(values[p.part][p.index]);
    return out;
  }
  case MergeKind::kOk:
    return "+OK\r\n";
  case MergeKind::kSum:
    return respLine(':', sum);
  case MergeKind::kNone:
    break;
  }
  return "-ERR internal error: nothing to merge\r\n";
}

}  // namespace kw::cluster

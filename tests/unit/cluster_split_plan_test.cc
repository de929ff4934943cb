#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <doctest.h>

#include "cluster/key_slot.h"
#include "cluster/slot_map.h"
#include "cluster/split_plan.h"

namespace kw::cluster {
namespace {

// Three masters with Redis's default ranges (0-5460, 5461-10922, 10923-16383).
uint16_t threeMasters(uint16_t slot) {
  return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2;
}

SplitPlan plan(std::vector<std::string_view> args, const SlotToNode& nodes = threeMasters) {
  std::string name(args.at(0));
  const CommandInfo* cmd = CommandTable::builtin().find(name);
  return planCommand(cmd, args, nodes);
}

std::string nodeName(uint16_t node) {
  return "10.0.0." + std::to_string(node + 1) + ":7000";
}

std::string merge(const SplitPlan& p, std::vector<PartOutcome> outcomes) {
  return mergeReplies(p, outcomes, nodeName);
}

std::string request(std::vector<std::string_view> args) {
  std::string out = "*";
  out += std::to_string(args.size());
  out += "\r\n";
  for (std::string_view a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

// {bar} is slot 5061 (node 0); {foo} 12182 and {a} 15495 are two slots of node 2.
TEST_CASE("split plan: the slots the tests rely on") {
  CHECK(keySlot("{bar}1") == 5061);
  CHECK(keySlot("{foo}1") == 12182);
  CHECK(keySlot("{a}1") == 15495);
}

TEST_CASE("split plan: keyless commands are the caller's to place") {
  CHECK(plan({"PING"}).kind == PlanKind::kNoKeys);
  CHECK(plan({"SCAN", "0"}).kind == PlanKind::kNoKeys);
  CHECK(plan({"EVAL", "return 1", "0"}).kind == PlanKind::kNoKeys);
  CHECK(plan({"NOSUCHCOMMAND", "x"}).kind == PlanKind::kNoKeys);
}

TEST_CASE("split plan: keys in one slot go as they are to that slot") {
  SplitPlan p = plan({"GET", "foo"});
  CHECK(p.kind == PlanKind::kOneSlot);
  CHECK(p.slot == 12182);
  p = plan({"MGET", "{foo}1", "{foo}2", "foo"});
  CHECK(p.kind == PlanKind::kOneSlot);
  CHECK(p.slot == 12182);
  CHECK(p.parts.empty());
  CHECK(plan({"EVAL", "return 1", "2", "{a}x", "{a}y", "not-a-key"}).kind == PlanKind::kOneSlot);
  CHECK(plan({"RENAME", "{a}x", "{a}y"}).kind == PlanKind::kOneSlot);
  CHECK(plan({"MSETNX", "{a}x", "1", "{a}y", "2"}).kind == PlanKind::kOneSlot);
}

TEST_CASE("split plan: commands that cannot be split get Redis's CROSSSLOT") {
  for (const auto& args : std::vector<std::vector<std::string_view>>{
           {"MSETNX", "{a}x", "1", "{bar}y", "2"},
           {"RENAME", "{a}x", "{bar}y"},
           {"SINTERSTORE", "{a}dst", "{a}s1", "{bar}s2"},
           {"EVAL", "return 1", "2", "{a}x", "{bar}y"},
           {"EVALSHA", "0123456789012345678901234567890123456789", "2", "{a}x", "{bar}y"},
           {"FCALL", "f", "2", "{a}x", "{bar}y"},
           {"SMOVE", "{a}x", "{bar}y", "m"}}) {
    CAPTURE(std::string(args[0]));
    const SplitPlan p = plan(args);
    CHECK(p.kind == PlanKind::kError);
    CHECK(p.error == "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  }
}

TEST_CASE("split plan: MGET, one part per slot, keys in request order, merged back in order") {
  const SplitPlan p = plan({"mget", "{bar}1", "{foo}1", "{bar}2", "{a}1", "{foo}1"});
  REQUIRE(p.kind == PlanKind::kSplit);
  CHECK(p.merge == MergeKind::kValues);
  CHECK_FALSE(p.writes);
  REQUIRE(p.parts.size() == 3);
  CHECK(p.parts[0].slot == 5061);
  CHECK(p.parts[0].node == 0);
  CHECK(p.parts[0].keys == 2);
  // The client's spelling of the command is kept.
  CHECK(p.parts[0].request == request({"mget", "{bar}1", "{bar}2"}));
  CHECK(p.parts[1].slot == 12182);
  CHECK(p.parts[1].node == 2);
  CHECK(p.parts[1].request == request({"mget", "{foo}1", "{foo}1"}));
  // Another slot of the same node is another part: the node would refuse both in one command.
  CHECK(p.parts[2].slot == 15495);
  CHECK(p.parts[2].node == 2);
  CHECK(p.parts[2].request == request({"mget", "{a}1"}));
  // The same key twice, at positions 2 and 5: each position gets its own element.
  const std::string merged = merge(p, {{"*2\r\n$2\r\nb1\r\n$-1\r\n", {}},
                                       {"*2\r\n$2\r\nf1\r\n$3\r\nf1!\r\n", {}},
                                       {"*1\r\n$2\r\na1\r\n", {}}});
  CHECK(merged == "*5\r\n$2\r\nb1\r\n$2\r\nf1\r\n$-1\r\n$2\r\na1\r\n$3\r\nf1!\r\n");
}

TEST_CASE("split plan: MGET merge keeps RESP3 nulls and values as the nodes sent them") {
  const SplitPlan p = plan({"MGET", "{foo}1", "{bar}1", "{foo}2"});
  REQUIRE(p.parts.size() == 2);
  const std::string merged =
      merge(p, {{"*2\r\n_\r\n$1\r\nx\r\n", {}}, {"*1\r\n$5\r\nhello\r\n", {}}});
  CHECK(merged == "*3\r\n_\r\n$5\r\nhello\r\n$1\r\nx\r\n");
}

TEST_CASE("split plan: MSET keeps each value with its key; +OK when every part is OK") {
  const SplitPlan p = plan({"MSET", "{foo}1", "v1", "{bar}1", "v2", "{foo}1", "v3"});
  REQUIRE(p.kind == PlanKind::kSplit);
  CHECK(p.merge == MergeKind::kOk);
  CHECK(p.writes);
  REQUIRE(p.parts.size() == 2);
  CHECK(p.parts[0].request == request({"MSET", "{foo}1", "v1", "{foo}1", "v3"}));
  CHECK(p.parts[1].request == request({"MSET", "{bar}1", "v2"}));
  CHECK(merge(p, {{"+OK\r\n", {}}, {"+OK\r\n", {}}}) == "+OK\r\n");
  CHECK(merge(p, {{"+OK\r\n", {}},
                  {"-OOM command not allowed when used memory > 'maxmemory'.\r\n", {}}}) ==
        "-OOM command not allowed when used memory > 'maxmemory'. (MSET part on node "
        "10.0.0.1:7000; some keys may have been changed)\r\n");
}

TEST_CASE("split plan: MSET with a key and no value is Redis's arity error") {
  const SplitPlan p = plan({"MSET", "{foo}1", "v1", "{bar}1"});
  CHECK(p.kind == PlanKind::kError);
  CHECK(p.error == "-ERR wrong number of arguments for 'mset' command\r\n");
}

TEST_CASE("split plan: EXISTS with a repeated key counts it twice; DEL, UNLINK, TOUCH sum") {
  const SplitPlan p = plan({"EXISTS", "{bar}k", "{foo}k", "{bar}k"});
  REQUIRE(p.kind == PlanKind::kSplit);
  CHECK(p.merge == MergeKind::kSum);
  REQUIRE(p.parts.size() == 2);
  CHECK(p.parts[0].request == request({"EXISTS", "{bar}k", "{bar}k"}));
  CHECK(merge(p, {{":2\r\n", {}}, {":0\r\n", {}}}) == ":2\r\n");
  for (std::string_view name : {"DEL", "UNLINK", "TOUCH"}) {
    const SplitPlan q = plan({name, "{bar}k", "{foo}k", "{a}k"});
    REQUIRE(q.kind == PlanKind::kSplit);
    CHECK(q.writes == (name != "TOUCH"));
    CHECK(merge(q, {{":1\r\n", {}}, {":0\r\n", {}}, {":1\r\n", {}}}) == ":2\r\n");
  }
}

TEST_CASE("split plan: a failed part fails the whole command, naming the node") {
  const SplitPlan del = plan({"DEL", "{bar}k", "{foo}k"});
  CHECK(merge(del, {{":1\r\n", {}}, {{}, "connection lost"}}) ==
        "-UPSTREAMDOWN connection lost (DEL part on node 10.0.0.3:7000; some keys may have been "
        "changed)\r\n");
  const SplitPlan mget = plan({"MGET", "{bar}k", "{foo}k", "{a}k"});
  CHECK(merge(mget, {{"*1\r\n$1\r\nx\r\n", {}}, {{}, "request timeout"}, {{}, {}}}) ==
        "-UPSTREAMDOWN request timeout (MGET part on node 10.0.0.3:7000, and 1 more part "
        "failed)\r\n");
  CHECK(merge(mget,
              {{"-MOVED 5061 10.0.0.9:7000\r\n", {}}, {"*1\r\n_\r\n", {}}, {"*1\r\n_\r\n", {}}}) ==
        "-MOVED 5061 10.0.0.9:7000 (MGET part on node 10.0.0.1:7000)\r\n");
  // A RESP3 blob error cannot bring a line break into the client's error.
  CHECK(merge(mget, {{"!10\r\nERR a\r\nb c\r\n", {}}, {"*1\r\n_\r\n", {}}, {"*1\r\n_\r\n", {}}}) ==
        "-ERR a  b c (MGET part on node 10.0.0.1:7000)\r\n");
}

TEST_CASE("split plan: a part reply of the wrong shape is an error, never a short array") {
  const SplitPlan mget = plan({"MGET", "{bar}k", "{foo}k"});
  for (std::string_view bad : {"*2\r\n$1\r\nx\r\n$1\r\ny\r\n", "*0\r\n", "$1\r\nx\r\n",
                               "*1\r\n$5\r\nx\r\n", "*1\r\n>1\r\n$1\r\nx\r\n", ":1\r\n"}) {
    CAPTURE(std::string(bad));
    CHECK(merge(mget, {{bad, {}}, {"*1\r\n$1\r\ny\r\n", {}}}) ==
          "-ERR unexpected reply (MGET part on node 10.0.0.1:7000)\r\n");
  }
  const SplitPlan del = plan({"DEL", "{bar}k", "{foo}k"});
  for (std::string_view bad : {":2\r\n", ":-1\r\n", "+OK\r\n", ":x\r\n"}) {
    CAPTURE(std::string(bad));
    CHECK(merge(del, {{bad, {}}, {":1\r\n", {}}}) ==
          "-ERR unexpected reply (DEL part on node 10.0.0.1:7000; some keys may have been "
          "changed)\r\n");
  }
  CHECK(merge(del, {{":1\r\n", {}}}) ==
        "-ERR internal error: split replies do not match their plan\r\n");
}

TEST_CASE("split plan: an MGET of 3000 keys over many slots comes back in request order") {
  std::vector<std::string> names;
  for (int i = 0; i < 3000; ++i)
    names.push_back("key:" + std::to_string(i % 2500));  // 500 keys asked twice
  std::vector<std::string_view> args = {"MGET"};
  args.insert(args.end(), names.begin(), names.end());
  const SplitPlan p = plan(args);
  REQUIRE(p.kind == PlanKind::kSplit);
  CHECK(p.parts.size() > 1000);
  // Each part answers its keys' names as values.
  std::vector<std::vector<std::string>> part_keys(p.parts.size());
  for (size_t i = 0; i < p.positions.size(); ++i) {
    auto& keys = part_keys[p.positions[i].part];
    keys.resize(std::max<size_t>(keys.size(), p.positions[i].index + 1));
    keys[p.positions[i].index] = names[i];
  }
  std::vector<std::string> replies;
  std::string expected = "*3000\r\n";
  for (size_t part = 0; part < p.parts.size(); ++part) {
    CHECK(p.parts[part].keys == part_keys[part].size());
    // Appended piece by piece: GCC 12's -Wrestrict misreads "$" + std::string at -O2.
    std::string r = "*";
    r.append(std::to_string(part_keys[part].size())).append("\r\n");
    for (const std::string& k : part_keys[part])
      r.append("$").append(std::to_string(k.size())).append("\r\n").append(k).append("\r\n");
    replies.push_back(r);
  }
  for (const std::string& k : names)
    expected.append("$").append(std::to_string(k.size())).append("\r\n").append(k).append("\r\n");
  std::vector<PartOutcome> outcomes;
  for (const std::string& r : replies)
    outcomes.push_back({r, {}});
  CHECK(merge(p, outcomes) == expected);
}

TEST_CASE("split plan: a slot without a master is CLUSTERDOWN, as Redis answers it") {
  const SplitPlan p = plan({"MGET", "{bar}k", "{foo}k"}, [](uint16_t slot) -> uint16_t {
    return slot == 12182 ? SlotMap::kNoNode : 0;
  });
  CHECK(p.kind == PlanKind::kError);
  CHECK(p.error == "-CLUSTERDOWN Hash slot not served\r\n");
  CHECK(p.parts.empty());
}

}  // namespace
}  // namespace kw::cluster

// Merges arbitrary node replies into the client's reply for split MGET, DEL and MSET plans. The
// input is the parts' replies separated by "|||" (an empty one: the node failed). Whatever the
// nodes sent, the client gets exactly one well-formed reply frame: the merged value, or one
// single-line error.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/split_plan.h"
#include "fuzz_check.h"
#include "proxy/reply_scanner.h"

namespace {

using namespace kw::cluster;

uint16_t threeMasters(uint16_t slot) {
  return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2;
}

void checkOneFrame(const std::string& reply) {
  FUZZ_CHECK(reply.size() >= 3);
  if (reply[0] == '-') {
    FUZZ_CHECK(reply.find_first_of("\r\n") == reply.size() - 2);
    return;
  }
  kw::ReplyScanner scanner;
  kw::ReplyScanner::Frame frame;
  FUZZ_CHECK(scanner.scan(reply, &frame) == kw::ReplyScanner::Status::kComplete);
  FUZZ_CHECK(frame.length == reply.size());
}

void mergeFor(std::vector<std::string_view> args, const std::vector<std::string_view>& replies) {
  const kw::CommandInfo* cmd = kw::CommandTable::builtin().find(args[0]);
  const SplitPlan plan = planCommand(cmd, args, threeMasters);
  FUZZ_CHECK(plan.kind == PlanKind::kSplit);
  std::vector<PartOutcome> outcomes(plan.parts.size());
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (i < replies.size() && !replies[i].empty())
      outcomes[i].reply = replies[i];
    else
      outcomes[i].failure = "connection lost";
  }
  const std::string merged =
      mergeReplies(plan, outcomes, [](uint16_t node) { return "node" + std::to_string(node); });
  checkOneFrame(merged);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> replies;
  size_t start = 0;
  while (replies.size() < 8) {
    const size_t sep = in.find("|||", start);
    replies.push_back(in.substr(start, sep == std::string_view::npos ? in.npos : sep - start));
    if (sep == std::string_view::npos)
      break;
    start = sep + 3;
  }
  // Three parts each: {bar} (node 0), {foo} and {a} (two slots of node 2).
  mergeFor({"MGET", "{bar}1", "{foo}1", "{bar}2", "{a}1", "{foo}1"}, replies);
  mergeFor({"DEL", "{bar}1", "{foo}1", "{a}1", "{a}1"}, replies);
  mergeFor({"MSET", "{bar}1", "x", "{foo}1", "y", "{a}1", "z"}, replies);
  return 0;
}

#include <string>
#include <string_view>
#include <vector>

#include <doctest.h>

#include "cluster/fan_out.h"
#include "proxy/command_table.h"

namespace kw::cluster {
namespace {

std::optional<FanOut> fanOut(std::vector<std::string_view> args) {
  return fanOutOf(CommandTable::builtin().find(args[0]), args);
}

std::string merge(const FanOut& fan, std::vector<std::string> replies) {
  std::vector<PartOutcome> outcomes;
  for (const std::string& r : replies)
    outcomes.push_back({r, {}});
  return mergeFanOut(fan, outcomes, [](size_t i) { return "node" + std::to_string(i); });
}

TEST_CASE("fan-out: which commands go to every master") {
  CHECK(fanOut({"dbsize"})->merge == FanOutMerge::kSum);
  CHECK(fanOut({"flushall"})->merge == FanOutMerge::kAllOk);
  CHECK(fanOut({"script", "load", "return 1"})->merge == FanOutMerge::kSame);
  CHECK(fanOut({"config", "set", "maxmemory", "1"})->merge == FanOutMerge::kAllOk);
  CHECK_FALSE(fanOut({"config", "get", "maxmemory"}));
  CHECK_FALSE(fanOut({"get", "k"}));
  // Users live on each node: one made through keywarden logs in on every master.
  CHECK(fanOut({"acl", "setuser", "u", "on"})->merge == FanOutMerge::kAllOk);
  CHECK(fanOut({"acl", "deluser", "u"})->merge == FanOutMerge::kSame);
  CHECK_FALSE(fanOut({"acl", "whoami"}));
}

TEST_CASE("fan-out merges: sums, all OK, the same reply everywhere, one error naming the node") {
  CHECK(merge(*fanOut({"dbsize"}), {":2\r\n", ":3\r\n", ":0\r\n"}) == ":5\r\n");
  const FanOut setuser = *fanOut({"acl", "setuser", "u", "on"});
  CHECK(merge(setuser, {"+OK\r\n", "+OK\r\n", "+OK\r\n"}) == "+OK\r\n");
  const std::string failed = merge(setuser, {"+OK\r\n", "-ERR Syntax error\r\n", "+OK\r\n"});
  CHECK(failed.starts_with("-"));
  CHECK(failed.find("node1") != std::string::npos);
  const FanOut deluser = *fanOut({"acl", "deluser", "u"});
  CHECK(merge(deluser, {":1\r\n", ":1\r\n", ":1\r\n"}) == ":1\r\n");
}

}  // namespace
}  // namespace kw::cluster

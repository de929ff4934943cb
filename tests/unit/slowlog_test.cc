#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <doctest.h>

#include "proxy/slowlog.h"

namespace kw {
namespace {

std::string run(SlowLog& log, std::vector<std::string_view> args) {
  return slowlogCommandReply(log, std::span<const std::string_view>(args));
}

TEST_CASE("KEYWARDEN SLOWLOG: GET, LEN, RESET and their errors") {
  SlowLog log;
  const std::string set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
  log.record(set, 12000, "127.0.0.1:5000", "app", "session", 128);
  log.record("*1\r\n$4\r\nPING\r\n", 15000, "127.0.0.1:5001", "", "none", 128);
  CHECK(run(log, {"LEN"}) == ":2\r\n");

  // Newest first; seven fields: Redis's six and the namespace.
  const std::string got = run(log, {"get", "1"});
  CHECK(got.rfind("*1\r\n*7\r\n:1\r\n:", 0) == 0);
  CHECK(
      got.find(":15000\r\n*1\r\n$4\r\nPING\r\n$14\r\n127.0.0.1:5001\r\n$0\r\n\r\n$4\r\nnone\r\n") !=
      std::string::npos);
  const std::string all = run(log, {"GET", "-1"});
  CHECK(all.rfind("*2\r\n", 0) == 0);
  CHECK(all.find("$7\r\nsession\r\n") != std::string::npos);
  CHECK(run(log, {"GET"}).rfind("*2\r\n", 0) == 0);  // default 10
  CHECK(run(log, {"GET", "0"}) == "*0\r\n");

  CHECK(run(log, {"GET", "-2"}) == "-ERR count should be greater than or equal to -1\r\n");
  CHECK(run(log, {"GET", "x"}) == "-ERR count should be greater than or equal to -1\r\n");
  CHECK(run(log, {"GET", "1", "2"}) ==
        "-ERR wrong number of arguments for 'keywarden|slowlog' command\r\n");
  CHECK(run(log, {"LEN", "x"}) ==
        "-ERR wrong number of arguments for 'keywarden|slowlog' command\r\n");
  CHECK(run(log, {"NOPE\r\n"}) == "-ERR unknown subcommand 'slowlog|NOPE  '. Try KEYWARDEN SLOWLOG "
                                  "GET [count] | LEN | RESET.\r\n");
  CHECK(run(log, {}).rfind("-ERR unknown subcommand", 0) == 0);

  CHECK(run(log, {"RESET"}) == "+OK\r\n");
  CHECK(run(log, {"LEN"}) == ":0\r\n");
  CHECK(run(log, {"GET"}) == "*0\r\n");
}

}  // namespace
}  // namespace kw

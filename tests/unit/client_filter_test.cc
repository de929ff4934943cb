#include <string>
#include <string_view>
#include <vector>

#include <doctest.h>

#include "proxy/client_filter.h"

namespace kw {
namespace {

// "" when the arguments parse, else the error reply; *f gets the filter.
std::string parse(std::vector<std::string_view> args, ClientKillFilter* f) {
  std::string error;
  const bool ok = parseClientKill(
      args, [](std::string_view user) { return user == "ops" || user == "auth-service"; }, f,
      &error);
  CHECK(ok == error.empty());
  return error;
}

std::string parseError(std::vector<std::string_view> args) {
  ClientKillFilter f;
  return parse(std::move(args), &f);
}

ClientFacts client(uint64_t id, ClientType type = ClientType::kNormal) {
  ClientFacts c;
  c.id = id;
  c.addr = "127.0.0.1:5000";
  c.laddr = "127.0.0.1:6380";
  c.user = "auth-service";
  c.type = type;
  c.age_s = 30;
  return c;
}

TEST_CASE("client kill: client types as Redis names them") {
  CHECK(parseClientType("normal") == ClientType::kNormal);
  CHECK(parseClientType("PubSub") == ClientType::kPubsub);
  CHECK(parseClientType("replica") == ClientType::kReplica);
  CHECK(parseClientType("SLAVE") == ClientType::kReplica);
  CHECK(parseClientType("master") == ClientType::kMaster);
  CHECK_FALSE(parseClientType("primary"));
  CHECK_FALSE(parseClientType(""));
}

TEST_CASE("client kill: TYPE filters by class") {
  ClientKillFilter f;
  REQUIRE(parse({"CLIENT", "KILL", "TYPE", "pubsub"}, &f) == "");
  CHECK_FALSE(f.old_form);
  CHECK(f.matches(client(7, ClientType::kPubsub), 1));
  CHECK_FALSE(f.matches(client(7, ClientType::kNormal), 1));
  REQUIRE(parse({"CLIENT", "KILL", "TYPE", "NORMAL"}, &f) == "");
  CHECK(f.matches(client(7), 1));
  CHECK_FALSE(f.matches(client(7, ClientType::kPubsub), 1));
  for (const char* none : {"master", "replica", "slave"}) {
    REQUIRE(parse({"CLIENT", "KILL", "TYPE", none}, &f) == "");
    CHECK_FALSE(f.matches(client(7), 1));
    CHECK_FALSE(f.matches(client(7, ClientType::kPubsub), 1));
  }
  // Redis 7.0's text, value as given.
  CHECK(parseError({"CLIENT", "KILL", "TYPE", "Bogus"}) == "ERR Unknown client type 'Bogus'");
  CHECK(parseError({"CLIENT", "KILL", "TYPE", "a\r\nb"}) == "ERR Unknown client type 'a  b'");
}

TEST_CASE("client kill: ID, ADDR, LADDR, USER, MAXAGE, SKIPME") {
  ClientKillFilter f;
  REQUIRE(parse({"client", "kill", "id", "7"}, &f) == "");
  CHECK(f.matches(client(7), 1));
  CHECK_FALSE(f.matches(client(8), 1));
  for (std::string_view bad : {"0", "-1", "abc", "07", "+7", "", "9223372036854775808"}) {
    CHECK_MESSAGE(
        parseError({"CLIENT", "KILL", "ID", bad}) == "ERR client-id should be greater than 0", bad);
  }

  REQUIRE(parse({"CLIENT", "KILL", "ADDR", "127.0.0.1:5000", "LADDR", "127.0.0.1:6380"}, &f) == "");
  CHECK(f.matches(client(7), 1));
  REQUIRE(parse({"CLIENT", "KILL", "ADDR", "127.0.0.1:5001"}, &f) == "");
  CHECK_FALSE(f.matches(client(7), 1));
  REQUIRE(parse({"CLIENT", "KILL", "LADDR", "127.0.0.1:6381"}, &f) == "");
  CHECK_FALSE(f.matches(client(7), 1));

  REQUIRE(parse({"CLIENT", "KILL", "USER", "auth-service"}, &f) == "");
  CHECK(f.matches(client(7), 1));
  REQUIRE(parse({"CLIENT", "KILL", "USER", "ops"}, &f) == "");
  CHECK_FALSE(f.matches(client(7), 1));
  CHECK(parseError({"CLIENT", "KILL", "USER", "nobody"}) == "ERR No such user 'nobody'");

  // MAXAGE (Redis 7.4): clients at least that many seconds old.
  REQUIRE(parse({"CLIENT", "KILL", "MAXAGE", "30"}, &f) == "");
  CHECK(f.matches(client(7), 1));
  REQUIRE(parse({"CLIENT", "KILL", "MAXAGE", "31"}, &f) == "");
  CHECK_FALSE(f.matches(client(7), 1));
  CHECK(parseError({"CLIENT", "KILL", "MAXAGE", "0"}) == "ERR maxage should be greater than 0");
  CHECK(parseError({"CLIENT", "KILL", "MAXAGE", "-5"}) == "ERR maxage should be greater than 0");
  CHECK(parseError({"CLIENT", "KILL", "MAXAGE", "x"}) ==
        "ERR maxage is not an integer or out of range");

  // The caller is skipped unless SKIPME no.
  REQUIRE(parse({"CLIENT", "KILL", "ID", "7"}, &f) == "");
  CHECK_FALSE(f.matches(client(7), 7));
  REQUIRE(parse({"CLIENT", "KILL", "ID", "7", "SKIPME", "No"}, &f) == "");
  CHECK(f.matches(client(7), 7));
  CHECK(parseError({"CLIENT", "KILL", "SKIPME", "maybe"}) == "ERR syntax error");

  // Filters combine with AND.
  REQUIRE(parse({"CLIENT", "KILL", "USER", "auth-service", "TYPE", "pubsub"}, &f) == "");
  CHECK_FALSE(f.matches(client(7), 1));
  CHECK(f.matches(client(7, ClientType::kPubsub), 1));
}

TEST_CASE("client kill: the old form and syntax errors") {
  ClientKillFilter f;
  REQUIRE(parse({"CLIENT", "KILL", "127.0.0.1:5000"}, &f) == "");
  CHECK(f.old_form);
  CHECK(f.matches(client(7), 7));  // the old form may kill the caller
  CHECK(f.matches(client(7), 1));
  REQUIRE(parse({"CLIENT", "KILL", "10.0.0.1:1"}, &f) == "");
  CHECK_FALSE(f.matches(client(7), 1));

  CHECK(parseError({"CLIENT", "KILL", "ID", "1", "TYPE"}) == "ERR syntax error");
  CHECK(parseError({"CLIENT", "KILL", "NOSUCH", "1"}) == "ERR syntax error");
  CHECK(parseError({"CLIENT", "KILL", "ID"}) == "");  // three arguments: the old form
  // Options are taken in order: the first bad one decides the reply, as in Redis.
  CHECK(parseError({"CLIENT", "KILL", "ID", "0", "TYPE"}) ==
        "ERR client-id should be greater than 0");
  CHECK(parseError({"CLIENT", "KILL", "TYPE", "x", "ID", "0"}) == "ERR Unknown client type 'x'");
}

}  // namespace
}  // namespace kw

#include <string>

#include <doctest.h>

#include "common/config_loader.h"

namespace kw {
namespace {

const char* kGood = R"(
[[postgres]]
name = "apidb"
conninfo = "host=127.0.0.1 port=5432 dbname=apidb user=keywarden"
connections = 2
query_timeout_ms = 2000

[[namespaces]]
name = "profile"
pattern = "profile:{user_id:uuid}"
default_ttl_s = 300
max_ttl_s = 300
ttl_required = true
read_through = { source = "apidb", query = "SELECT row_to_json(p)::text FROM profiles p WHERE user_id = $1", params = ["user_id"], negative_ttl_s = 30, notify_channel = "profile_changed" }
)";

std::string errorOf(const std::string& text) {
  Config c;
  std::string error;
  CHECK_FALSE(parseConfigText(text, "t.toml", &c, &error));
  return error;
}

TEST_CASE("read-through config: the issue's example parses") {
  Config c;
  std::string error;
  REQUIRE_MESSAGE(parseConfigText(kGood, "t.toml", &c, &error), error);
  REQUIRE(c.pg.sources.size() == 1);
  CHECK(c.pg.sources[0].name == "apidb");
  CHECK(c.pg.sources[0].connections == 2);
  CHECK(c.pg.sources[0].query_timeout_ms == 2000);
  REQUIRE(c.pg.read_through.size() == 1);
  const ReadThroughConfig& rt = c.pg.read_through[0];
  CHECK(rt.ns == "profile");
  CHECK(rt.source == "apidb");
  CHECK(rt.ttl_s == 300);
  CHECK(rt.negative_ttl_s == 30);
  CHECK(rt.notify_channel == "profile_changed");
  REQUIRE(rt.param_captures.size() == 1);
  CHECK(rt.param_captures[0] == 0);
}

TEST_CASE("read-through config: a sub-table is the same as an inline table") {
  const std::string text = R"(
[[postgres]]
name = "db"
conninfo = "host=127.0.0.1"

[[namespaces]]
name = "order"
pattern = "order:{tenant}:{id:int}"
default_ttl_s = 60
[namespaces.read_through]
source = "db"
query = "SELECT body FROM orders WHERE tenant = $1 AND id = $2"
params = ["tenant", "id"]
)";
  Config c;
  std::string error;
  REQUIRE_MESSAGE(parseConfigText(text, "t.toml", &c, &error), error);
  REQUIRE(c.pg.read_through.size() == 1);
  CHECK(c.pg.read_through[0].param_captures == std::vector<uint32_t>{0, 1});
  CHECK(c.pg.read_through[0].negative_ttl_s == 30);
}

TEST_CASE("read-through config: params must be segments of the pattern") {
  std::string text = kGood;
  text.replace(text.find("params = [\"user_id\"]"), 20, "params = [\"uid\"]");
  const std::string e = errorOf(text);
  CHECK(e.find("t.toml:14: namespaces[0].read_through.params: \"uid\" is not a segment of the "
               "pattern \"profile:{user_id:uuid}\" (segments: user_id)") != std::string::npos);
}

TEST_CASE("read-through config: unknown source, missing query, unknown keys, bad types") {
  std::string text = kGood;
  text.replace(text.find("source = \"apidb\""), 16, "source = \"nope\"");
  CHECK(errorOf(text).find("no [[postgres]] source named \"nope\" (declared: apidb)") !=
        std::string::npos);

  CHECK(errorOf(R"(
[[postgres]]
name = "db"
conninfo = "host=127.0.0.1"
colour = "blue"
[[namespaces]]
name = "p"
pattern = "p:{id}"
default_ttl_s = 10
read_through = { source = "db", params = ["id"], extra = 1 }
)") == "t.toml:5: postgres[0].colour: unknown key\n"
       "t.toml:10: namespaces[0].read_through.extra: unknown key\n"
       "t.toml:10: namespaces[0].read_through.query: required (SQL with $1..$n for params)");

  CHECK(errorOf(R"(
[[postgres]]
name = "db"
conninfo = "host=127.0.0.1"
[[namespaces]]
name = "p"
pattern = "p:{id}"
read_through = "SELECT 1"
)")
            .find("namespaces[0].read_through: expected a table") != std::string::npos);

  CHECK(errorOf(R"(
[[postgres]]
name = "db"
conninfo = "host=127.0.0.1"
connections = 0
query_timeout_ms = "fast"
)") == "t.toml:5: postgres[0].connections: expected an integer in 1..64, got 0\n"
       "t.toml:6: postgres[0].query_timeout_ms: expected an integer in 1..600000, got "
       "\"fast\"");
}

TEST_CASE("read-through config: sources need a name and a conninfo libpq can parse") {
  CHECK(errorOf("[[postgres]]\nconninfo = \"host=x\"\n") == "t.toml:1: postgres[0].name: required");
  const std::string e = errorOf("[[postgres]]\nname = \"a\"\nconninfo = \"nosuchoption=1\"\n");
  CHECK(e.find("t.toml:3: postgres[0].conninfo: libpq cannot parse it: invalid connection "
               "option \"nosuchoption\"") != std::string::npos);
  CHECK(errorOf("[[postgres]]\nname = \"a\"\nconninfo = \"host=x\"\n"
                "[[postgres]]\nname = \"a\"\nconninfo = \"host=y\"\n")
            .find("duplicate source name \"a\" (first declared on line 1)") != std::string::npos);
}

TEST_CASE("read-through config: a namespace without default TTL, a notify channel that cannot "
          "rebuild the key") {
  CHECK(errorOf(R"(
[[postgres]]
name = "db"
conninfo = "host=127.0.0.1"
[[namespaces]]
name = "p"
pattern = "p:{id}"
read_through = { source = "db", query = "SELECT 'x'", params = ["id"] }
)")
            .find("needs default_ttl_s > 0") != std::string::npos);
  CHECK(errorOf(R"(
[[postgres]]
name = "db"
conninfo = "host=127.0.0.1"
[[namespaces]]
name = "p"
pattern = "p:{a}:{b}"
default_ttl_s = 5
read_through = { source = "db", query = "SELECT $1", params = ["a"], notify_channel = "ch" }
)")
            .find("needs every segment of the pattern in params") != std::string::npos);
}

}  // namespace
}  // namespace kw

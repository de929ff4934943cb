// The sentinel mode's pure parts: its configuration, which master to follow (MasterChoice, time
// injected), the ROLE check of new links, and the topology snapshots a failover makes.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>
#include <string_view>
#include <vector>

#include <doctest.h>

#include "common/config_loader.h"
#include "proxy/topology.h"
#include "sentinel/master_choice.h"
#include "sentinel/sentinel_replies.h"

namespace kw {
namespace {

using sentinel::MasterChoice;

HostPort hp(const char* host, uint16_t port) {
  HostPort out;
  out.host = host;
  out.port = port;
  return out;
}

std::string parseError(const std::string& text) {
  Config config;
  std::string error;
  CHECK_FALSE(parseConfigText(text, "k.toml", &config, &error));
  return error;
}

Config parseOk(const std::string& text) {
  Config config;
  std::string error;
  const bool ok = parseConfigText(text, "k.toml", &config, &error);
  INFO(error);
  CHECK(ok);
  return config;
}

sockaddr_storage v4(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  inet_pton(AF_INET, ip, &a->sin_addr);
  return ss;
}

TEST_CASE("sentinel config: every key") {
  const Config c = parseOk("[upstream]\n"
                           "mode = \"sentinel\"\n"
                           "sentinels = [\"127.0.0.1:26379\", \"127.0.0.1:26380\"]\n"
                           "master_name = \"mymaster\"\n"
                           "sentinel_username = \"watcher\"\n"
                           "sentinel_password = \"spw\"\n"
                           "username = \"app\"\n"
                           "password = \"apw\"\n");
  CHECK(c.upstream.mode == UpstreamMode::kSentinel);
  REQUIRE(c.upstream.sentinels.size() == 2);
  CHECK(c.upstream.sentinels[1].port == 26380);
  CHECK(c.upstream.master_name == "mymaster");
  CHECK(c.upstream.sentinel_username == "watcher");
  CHECK(c.upstream.sentinel_password == "spw");
  CHECK(c.upstream.username == "app");  // the master's own credentials stay apart
  CHECK(c.upstream.password == "apw");
  CHECK(std::string(upstreamModeName(c.upstream.mode)) == "sentinel");
}

TEST_CASE("sentinel config: bad combinations name their line") {
  // sentinels without mode = "sentinel": the mode is never inferred.
  CHECK(parseError("[upstream]\nsentinels = [\"127.0.0.1:26379\"]\nmaster_name = \"m\"\n") ==
        "k.toml:2: upstream.sentinels: only for mode = \"sentinel\" (mode is \"standalone\")\n"
        "k.toml:3: upstream.master_name: only for mode = \"sentinel\" (mode is \"standalone\")");
  // Sentinels beside cluster seeds.
  std::string e = parseError("[upstream]\nmode = \"cluster\"\nseeds = [\"127.0.0.1:7000\"]\n"
                             "sentinels = [\"127.0.0.1:26379\"]\n");
  CHECK(e == "k.toml:4: upstream.sentinels: only for mode = \"sentinel\" (mode is \"cluster\")");
  e = parseError("[upstream]\nmode = \"sentinel\"\nsentinels = [\"127.0.0.1:26379\"]\n"
                 "master_name = \"m\"\nseeds = [\"127.0.0.1:7000\"]\n");
  CHECK(e == "k.toml:5: upstream.seeds: only for mode = \"cluster\" (mode is \"sentinel\")");
  // An address beside the sentinels.
  e = parseError("[upstream]\nmode = \"sentinel\"\nsentinels = [\"127.0.0.1:26379\"]\n"
                 "master_name = \"m\"\naddress = \"127.0.0.1:6379\"\n");
  CHECK(e.find("k.toml:5: upstream.address: not used with mode = \"sentinel\"") == 0);
  // Missing pieces.
  e = parseError("[upstream]\nmode = \"sentinel\"\nmaster_name = \"m\"\n");
  CHECK(e == "k.toml:2: upstream.sentinels: mode = \"sentinel\" needs at least one sentinel "
             "(\"HOST:PORT\")");
  e = parseError("[upstream]\nmode = \"sentinel\"\nsentinels = []\nmaster_name = \"m\"\n");
  CHECK(e.empty() == false);
  e = parseError("[upstream]\nmode = \"sentinel\"\nsentinels = [\"127.0.0.1:26379\"]\n");
  CHECK(e == "k.toml:2: upstream.master_name: mode = \"sentinel\" needs the name the sentinels "
             "monitor the master by");
  e = parseError(
      "[upstream]\nmode = \"sentinel\"\nsentinels = [\"nocolon\"]\nmaster_name = \"m\"\n");
  CHECK(e.find("k.toml:3: upstream.sentinels: expected HOST:PORT") == 0);
  e = parseError("[upstream]\nmode = \"sentinel\"\nsentinels = [\"127.0.0.1:26379\"]\n"
                 "master_name = \"m\"\nsentinel_username = \"u\"\n");
  CHECK(e == "k.toml:5: upstream.sentinel_username: needs sentinel_password (AUTH takes a user "
             "and a password)");
  e = parseError("[upstream]\nmode = \"sentinels\"\n");
  CHECK(e.find("k.toml:2: upstream.mode: expected \"standalone\" or \"cluster\" or \"sentinel\"") ==
        0);
}

TEST_CASE("MasterChoice: the first lookup names the master, no failover counted") {
  MasterChoice c;
  CHECK(c.onLookup({}, 0) == MasterChoice::Outcome::kNone);
  CHECK_FALSE(c.known());
  CHECK(c.onLookup({hp("10.0.0.1", 6379)}, 10) == MasterChoice::Outcome::kChanged);
  CHECK(c.known());
  CHECK(c.master().host == "10.0.0.1");
  CHECK(c.failovers() == 0);
  CHECK(c.onLookup({hp("10.0.0.1", 6379)}, 20) == MasterChoice::Outcome::kSame);
}

TEST_CASE("MasterChoice: +switch-master is followed at once and counted") {
  MasterChoice c;
  c.onLookup({hp("10.0.0.1", 6379)}, 0);
  CHECK(c.onSwitch(hp("10.0.0.1", 6379), hp("10.0.0.2", 6379), 100) ==
        MasterChoice::Outcome::kChanged);
  CHECK(c.master().host == "10.0.0.2");
  CHECK(c.previous().host == "10.0.0.1");
  CHECK(c.failovers() == 1);
  // The same announcement from the other sentinels changes nothing.
  CHECK(c.onSwitch(hp("10.0.0.1", 6379), hp("10.0.0.2", 6379), 110) ==
        MasterChoice::Outcome::kSame);
  CHECK(c.failovers() == 1);
}

TEST_CASE("MasterChoice: a sentinel that has not heard of the switch yet is outvoted") {
  MasterChoice c;
  c.onLookup({hp("10.0.0.1", 6379)}, 0);
  c.onSwitch(hp("10.0.0.1", 6379), hp("10.0.0.2", 6379), 1000);
  // Two lagging sentinels still name the old master: stale within kSwitchTrustMs.
  CHECK(c.onLookup({hp("10.0.0.1", 6379), hp("10.0.0.1", 6379), hp("10.0.0.2", 6379)}, 1500) ==
        MasterChoice::Outcome::kSame);
  CHECK(c.master().host == "10.0.0.2");
  // Every answer names the old one: they agree, so it is the master again.
  CHECK(c.onLookup({hp("10.0.0.1", 6379)}, 2000) == MasterChoice::Outcome::kChanged);
  CHECK(c.master().host == "10.0.0.1");
  CHECK(c.failovers() == 2);
}

TEST_CASE("MasterChoice: a missed failover is learned by lookup, by majority") {
  MasterChoice c;
  c.onLookup({hp("10.0.0.1", 6379)}, 0);
  CHECK(c.onLookup({hp("10.0.0.3", 6379), hp("10.0.0.2", 6379), hp("10.0.0.2", 6379)},
                   MasterChoice::kSwitchTrustMs * 2) == MasterChoice::Outcome::kChanged);
  CHECK(c.master().host == "10.0.0.2");
  CHECK(c.failovers() == 1);
  // A tie goes to the first answer.
  MasterChoice d;
  d.onLookup({hp("10.0.0.5", 1), hp("10.0.0.6", 1)}, 0);
  CHECK(d.master().host == "10.0.0.5");
  // Ports matter.
  CHECK(d.onLookup({hp("10.0.0.5", 2)}, MasterChoice::kSwitchTrustMs * 2) ==
        MasterChoice::Outcome::kChanged);
}

TEST_CASE("parsePromotedReplica: the failover leader's +promoted-slave") {
  // As Sentinel formats "%@" for a replica: type, name, ip, port, @, master name, ip, port.
  const std::string_view payload =
      "slave 127.0.0.1:38599 127.0.0.1 38599 @ kwmaster 127.0.0.1 34631";
  std::string frame = "*3\r\n$7\r\nmessage\r\n$15\r\n+promoted-slave\r\n$" +
                      std::to_string(payload.size()) + "\r\n" + std::string(payload) + "\r\n";
  SwitchMaster m = parsePromotedReplica(frame, "kwmaster");
  REQUIRE(m.kind == SwitchMaster::Kind::kSwitch);
  CHECK(m.to.host == "127.0.0.1");
  CHECK(m.to.port == 38599);
  CHECK(m.from.port == 34631);
  CHECK(parsePromotedReplica(frame, "other").kind == SwitchMaster::Kind::kOtherMaster);
  // RESP3 push form.
  frame[0] = '>';
  CHECK(parsePromotedReplica(frame, "kwmaster").kind == SwitchMaster::Kind::kSwitch);
  // A master name with spaces and " @ " in it.
  const std::string_view odd = "slave 10.0.0.2:1 10.0.0.2 1 @ a @ b 10.0.0.1 2";
  frame = "*3\r\n$7\r\nmessage\r\n$15\r\n+promoted-slave\r\n$" + std::to_string(odd.size()) +
          "\r\n" + std::string(odd) + "\r\n";
  CHECK(parsePromotedReplica(frame, "a @ b").kind == SwitchMaster::Kind::kSwitch);
  // Not this channel, or not this shape.
  CHECK(
      parsePromotedReplica("*3\r\n$9\r\nsubscribe\r\n$15\r\n+promoted-slave\r\n:2\r\n", "kwmaster")
          .kind == SwitchMaster::Kind::kNotSwitch);
  for (std::string_view bad : {"master kwmaster 127.0.0.1 1 @ kwmaster 127.0.0.1 2",
                               "slave 127.0.0.1:1 127.0.0.1 1 kwmaster 127.0.0.1 2",
                               "slave x 127.0.0.1 99999 @ kwmaster 127.0.0.1 2", "", "@"}) {
    frame = "*3\r\n$7\r\nmessage\r\n$15\r\n+promoted-slave\r\n$" + std::to_string(bad.size()) +
            "\r\n" + std::string(bad) + "\r\n";
    CHECK(parsePromotedReplica(frame, "kwmaster").kind == SwitchMaster::Kind::kMalformed);
  }
  // Every prefix of a valid frame is rejected without reading past it.
  frame = "*3\r\n$7\r\nmessage\r\n$15\r\n+promoted-slave\r\n$" + std::to_string(payload.size()) +
          "\r\n" + std::string(payload) + "\r\n";
  for (size_t n = 0; n < frame.size(); ++n)
    CHECK(parsePromotedReplica(std::string_view(frame.data(), n), "kwmaster").kind !=
          SwitchMaster::Kind::kSwitch);
}

TEST_CASE("roleIsMaster: only a master passes, with the reason otherwise") {
  std::string why;
  CHECK(sentinel::roleIsMaster("*3\r\n$6\r\nmaster\r\n:827\r\n*0\r\n", &why));
  CHECK_FALSE(sentinel::roleIsMaster(
      "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:34631\r\n$9\r\nconnected\r\n:827\r\n", &why));
  CHECK(why == "ROLE says replica of 127.0.0.1:34631 (link connected), not the master");
  CHECK_FALSE(sentinel::roleIsMaster("*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nkwmaster\r\n", &why));
  CHECK(why == "ROLE says sentinel, not the master");
  CHECK_FALSE(sentinel::roleIsMaster("-NOPERM this user has no permissions\r\n", &why));
  CHECK(why.find("ROLE refused: NOPERM") == 0);
  CHECK_FALSE(sentinel::roleIsMaster("+OK\r\n", &why));
  CHECK(why == "ROLE: malformed reply");
  CHECK_FALSE(sentinel::roleIsMaster(std::string_view("*3\r\n$6\r\nmas", 13), &why));
}

TEST_CASE("Topology::successor: a new master is a new node, the old one gone") {
  auto t1 = Topology::successor(nullptr, "10.0.0.1:6379", v4("10.0.0.1", 6379), 1);
  REQUIRE(t1->nodes().size() == 1);
  CHECK(t1->anyNode() == 0);
  CHECK_FALSE(t1->cluster());
  CHECK(t1->nodeForSlot(123) == 0);
  auto t2 = Topology::successor(t1.get(), "10.0.0.2:6379", v4("10.0.0.2", 6379), 2);
  REQUIRE(t2->nodes().size() == 2);
  CHECK(t2->anyNode() == 1);
  CHECK(t2->node(0).gone);
  CHECK_FALSE(t2->node(0).master);
  CHECK(t2->masters() == std::vector<NodeId>{1});
  CHECK(t2->nodeForSlot(kAnySlot) == 1);
  // Back to the first address: its id again, the other one gone.
  auto t3 = Topology::successor(t2.get(), "10.0.0.1:6379", v4("10.0.0.1", 6379), 3);
  REQUIRE(t3->nodes().size() == 2);
  CHECK(t3->anyNode() == 0);
  CHECK_FALSE(t3->node(0).gone);
  CHECK(t3->node(1).gone);
  CHECK(t3->find(v4("10.0.0.2", 6379)) == kNoNode);
}

}  // namespace
}  // namespace kw

#include <string>
#include <string_view>

#include <doctest.h>

#include "cluster/slot_map.h"
#include "cluster_replies.h"

namespace kw::cluster {
namespace {

using namespace cluster_replies;

std::unique_ptr<const SlotMap> shards(std::string_view reply) {
  SlotMapParse p = parseClusterShards(reply);
  INFO(p.error);
  REQUIRE(p.map);
  CHECK(p.error.empty());
  return std::move(p.map);
}

std::unique_ptr<const SlotMap> slots(std::string_view reply) {
  SlotMapParse p = parseClusterSlots(reply);
  INFO(p.error);
  REQUIRE(p.map);
  CHECK(p.error.empty());
  return std::move(p.map);
}

const ClusterNode& owner(const SlotMap& m, uint16_t slot) {
  const uint16_t n = m.nodeForSlot(slot);
  REQUIRE(n != SlotMap::kNoNode);
  return m.node(n);
}

const ClusterNode& byPort(const SlotMap& m, uint16_t port) {
  for (const ClusterNode& n : m.nodes())
    if (n.port == port)
      return n;
  FAIL("no node on port " << port);
  return m.node(0);
}

std::string bulk(std::string_view s) {
  // Appended piece by piece: GCC 12's -Wrestrict misreads "$" + std::string at -O2.
  std::string out = "$";
  out.append(std::to_string(s.size())).append("\r\n").append(s).append("\r\n");
  return out;
}

// The captured cluster: three masters, one replica each, every slot covered.
void checkCapturedCluster(const SlotMap& m) {
  CHECK(m.coversAllSlots());
  CHECK(m.nodes().size() == 6);
  REQUIRE(m.masters().size() == 3);
  CHECK(m.node(m.masters()[0]).port == 60771);
  CHECK(m.node(m.masters()[1]).port == 44975);
  CHECK(m.node(m.masters()[2]).port == 38385);
  CHECK(owner(m, 0).port == 60771);
  CHECK(owner(m, 5460).port == 60771);
  CHECK(owner(m, 5461).port == 44975);
  CHECK(owner(m, 10922).port == 44975);
  CHECK(owner(m, 10923).port == 38385);
  CHECK(owner(m, 16383).port == 38385);
  const ClusterNode& m1 = owner(m, 0);
  CHECK(m1.id == "3a1defa9cc894bc07a5fe7bc3954a6f39649b0dc");
  CHECK(m1.role == NodeRole::kMaster);
  CHECK(m1.endpoint == Endpoint::kAddress);
  CHECK(m1.host == "127.0.0.1");
  REQUIRE(m1.replicas.size() == 1);
  const ClusterNode& r1 = m.node(m1.replicas[0]);
  CHECK(r1.port == 53881);
  CHECK(r1.id == "d6e9c7086412bceb555e47839dc43f0e446047d6");
  CHECK(r1.role == NodeRole::kReplica);
  CHECK(m.node(r1.master).port == 60771);
  CHECK(m.node(owner(m, 6000).replicas.at(0)).port == 56143);
  CHECK(m.node(owner(m, 12000).replicas.at(0)).port == 42763);
}

TEST_CASE("slot map: CLUSTER SLOTS and CLUSTER SHARDS of a real cluster, RESP2 and RESP3") {
  const auto a = slots(kSlotsResp2);
  const auto b = slots(kSlotsResp3);
  const auto c = shards(kShardsResp2);
  const auto d = shards(kShardsResp3);
  for (const SlotMap* m : {a.get(), b.get(), c.get(), d.get()})
    checkCapturedCluster(*m);
  CHECK(a->sameRouting(*b));
  CHECK(a->sameRouting(*c));
  CHECK(c->sameRouting(*d));
  // SHARDS reports health; SLOTS does not (Redis leaves failed replicas out).
  for (const ClusterNode& n : d->nodes())
    CHECK(n.health == NodeHealth::kOnline);
}

TEST_CASE("slot map: a master serving two ranges comes first in masters() for its lowest slot") {
  for (const auto& m :
       {slots(kSlotsMultiResp2), shards(kShardsMultiResp2), shards(kShardsMultiResp3)}) {
    CHECK(m->coversAllSlots());
    CHECK(m->nodes().size() == 6);
    CHECK(owner(*m, 0).port == 38385);
    CHECK(owner(*m, 99).port == 38385);
    CHECK(owner(*m, 100).port == 60771);
    CHECK(owner(*m, 10923).port == 38385);
    REQUIRE(m->masters().size() == 3);
    CHECK(m->node(m->masters()[0]).port == 38385);
    CHECK(m->node(m->masters()[1]).port == 60771);
    CHECK(m->node(m->masters()[2]).port == 44975);
    CHECK(m->node(owner(*m, 0).replicas.at(0)).port == 42763);
  }
  CHECK(slots(kSlotsMultiResp2)->sameRouting(*shards(kShardsMultiResp3)));
  CHECK_FALSE(slots(kSlotsMultiResp2)->sameRouting(*slots(kSlotsResp2)));
}

TEST_CASE("slot map: announced host names, ip preferred") {
  for (const auto& m : {slots(kSlotsHostnameIpResp2), shards(kShardsHostnameIpResp2)}) {
    const ClusterNode& a = byPort(*m, 60771);
    CHECK(a.endpoint == Endpoint::kAddress);
    CHECK(a.host == "127.0.0.1");
    CHECK(a.ip == "127.0.0.1");
    CHECK(a.hostname == "node-a.kw.test");
    CHECK(byPort(*m, 56143).hostname == "node-e.kw.test");
    CHECK(byPort(*m, 42763).hostname.empty());
    CHECK(byPort(*m, 42763).host == "127.0.0.1");
    CHECK(m->findNode("node-b.kw.test", 44975) == m->findNode("127.0.0.1", 44975));
    CHECK(m->findNode("127.0.0.1", 44975) == m->nodeForSlot(5461));
  }
}

TEST_CASE("slot map: host names preferred; '?' for the node without one falls back to its ip") {
  for (const auto& m :
       {slots(kSlotsHostnameResp2), slots(kSlotsHostnameResp3), shards(kShardsHostnameResp3)}) {
    const ClusterNode& a = owner(*m, 100);
    CHECK(a.endpoint == Endpoint::kAddress);
    CHECK(a.host == "node-a.kw.test");
    CHECK(a.ip == "127.0.0.1");
    CHECK(owner(*m, 0).host == "node-c.kw.test");
    const ClusterNode& unnamed = byPort(*m, 42763);
    CHECK(unnamed.endpoint == Endpoint::kAddress);
    CHECK(unnamed.host == "127.0.0.1");
    CHECK(unnamed.hostname.empty());
    CHECK(m->findNode("node-c.kw.test", 38385) == m->nodeForSlot(0));
  }
}

TEST_CASE("slot map: unknown endpoints (NULL, \"\") mean the address the map was read from") {
  for (const auto& m :
       {slots(kSlotsUnknownResp2), slots(kSlotsUnknownResp3), shards(kShardsUnknownResp2)}) {
    CHECK(m->coversAllSlots());
    for (const ClusterNode& n : m->nodes()) {
      CHECK(n.endpoint == Endpoint::kSameAsSeed);
      CHECK(n.host.empty());
      CHECK(n.ip == "127.0.0.1");
    }
    CHECK(byPort(*m, 60771).hostname == "node-a.kw.test");
    // MOVED names such a node ":port".
    CHECK(m->findNode("", 44975) == m->nodeForSlot(5461));
    CHECK(m->findNode("", 1) == SlotMap::kNoNode);
  }
}

TEST_CASE("slot map: '?' without an ip is an unknown endpoint") {
  const std::string reply = "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n" + bulk("?") + ":7000\r\n" +
                            bulk("0123456789012345678901234567890123456789");
  const auto m = slots(reply);
  CHECK(m->node(0).endpoint == Endpoint::kUnknown);
  CHECK(m->node(0).host.empty());
}

TEST_CASE("slot map: CLUSTER SLOTS of Redis before 4 (no node ids)") {
  const std::string reply = "*2\r\n*4\r\n:0\r\n:8191\r\n*2\r\n" + bulk("10.0.0.1") +
                            ":7000\r\n*2\r\n" + bulk("10.0.0.2") + ":7001\r\n*3\r\n:8192\r\n" +
                            ":16383\r\n*2\r\n" + bulk("10.0.0.3") + ":7002\r\n";
  const auto m = slots(reply);
  CHECK(m->coversAllSlots());
  CHECK(owner(*m, 0).id == "10.0.0.1:7000");
  CHECK(owner(*m, 16383).host == "10.0.0.3");
  CHECK(m->node(owner(*m, 0).replicas.at(0)).id == "10.0.0.2:7001");
}

TEST_CASE("slot map: a shard whose old master failed is served by the online one") {
  auto node = [](std::string_view id, int port, std::string_view role, std::string_view health) {
    return "%5\r\n" + bulk("id") + bulk(id) + bulk("port") + ":" + std::to_string(port) + "\r\n" +
           bulk("endpoint") + bulk("10.0.0.1") + bulk("role") + bulk(role) + bulk("health") +
           bulk(health);
  };
  const std::string reply = "*1\r\n%2\r\n" + bulk("slots") + "*2\r\n:0\r\n:16383\r\n" +
                            bulk("nodes") + "*3\r\n" + node("old", 7000, "master", "failed") +
                            node("new", 7001, "master", "online") +
                            node("r", 7002, "replica", "loading");
  const auto m = shards(reply);
  CHECK(owner(*m, 0).id == "new");
  CHECK(owner(*m, 0).replicas.size() == 1);
  CHECK(m->node(owner(*m, 0).replicas[0]).health == NodeHealth::kLoading);
  CHECK(m->masters().size() == 1);
  CHECK(m->nodes().size() == 3);
}

TEST_CASE("slot map: an empty cluster, and slots nobody serves") {
  const auto empty = slots("*0\r\n");
  CHECK(empty->coveredSlots() == 0);
  CHECK(empty->masters().empty());
  CHECK(empty->nodeForSlot(0) == SlotMap::kNoNode);
  const std::string partial = "*1\r\n*3\r\n:10\r\n:19\r\n*3\r\n" + bulk("h") + ":1\r\n" + bulk("x");
  const auto m = slots(partial);
  CHECK(m->coveredSlots() == 10);
  CHECK_FALSE(m->coversAllSlots());
  CHECK(m->nodeForSlot(9) == SlotMap::kNoNode);
  CHECK(m->nodeForSlot(10) == 0);
  CHECK(m->nodeForSlot(20) == SlotMap::kNoNode);
}

std::string slotsError(std::string_view reply) {
  SlotMapParse p = parseClusterSlots(reply);
  CHECK_FALSE(p.map);
  return p.error;
}

std::string shardsError(std::string_view reply) {
  SlotMapParse p = parseClusterShards(reply);
  CHECK_FALSE(p.map);
  return p.error;
}

TEST_CASE("slot map: malformed replies are errors that say what is wrong") {
  CHECK(shardsError("-ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.\r\n") ==
        "CLUSTER SHARDS answered an error: ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.");
  CHECK(slotsError("-ERR This instance has cluster support disabled\r\n") ==
        "CLUSTER SLOTS answered an error: ERR This instance has cluster support disabled");
  CHECK(slotsError("") == "CLUSTER SLOTS reply: not one well-formed RESP value");
  CHECK(slotsError("+OK\r\n") == "CLUSTER SLOTS reply: not a list of slot ranges");
  CHECK(slotsError("*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n") ==
        "CLUSTER SLOTS reply: a slot is not a number in 0..16383");
  CHECK(slotsError("*1\r\n*3\r\n:9\r\n:8\r\n*2\r\n$1\r\nh\r\n:1\r\n") ==
        "CLUSTER SLOTS reply: slot range 9-8 is reversed");
  CHECK(slotsError("*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:65536\r\n") ==
        "CLUSTER SLOTS reply: a node port is not a port number");
  CHECK(slotsError("*2\r\n*3\r\n:0\r\n:5\r\n*3\r\n$1\r\nh\r\n:1\r\n$1\r\na\r\n"
                   "*3\r\n:5\r\n:6\r\n*3\r\n$1\r\nh\r\n:2\r\n$1\r\nb\r\n") ==
        "CLUSTER SLOTS reply: slot 5 is served by two masters");
  CHECK(slotsError("*2\r\n*3\r\n:0\r\n:5\r\n*3\r\n$1\r\nh\r\n:1\r\n$1\r\na\r\n"
                   "*4\r\n:6\r\n:7\r\n*3\r\n$1\r\nh\r\n:2\r\n$1\r\nb\r\n"
                   "*3\r\n$1\r\nh\r\n:1\r\n$1\r\na\r\n") ==
        "CLUSTER SLOTS reply: node a is listed both as a master and as a replica");
  // Found by the fuzzer: one replica under two masters.
  CHECK(slotsError("*2\r\n*4\r\n:0\r\n:5\r\n*3\r\n$1\r\nh\r\n:1\r\n$1\r\na\r\n"
                   "*3\r\n$1\r\nh\r\n:3\r\n$1\r\nr\r\n"
                   "*4\r\n:6\r\n:7\r\n*3\r\n$1\r\nh\r\n:2\r\n$1\r\nb\r\n"
                   "*3\r\n$1\r\nh\r\n:3\r\n$1\r\nr\r\n") ==
        "CLUSTER SLOTS reply: replica r is listed under two masters");
  CHECK(shardsError("*1\r\n%1\r\n$5\r\nslots\r\n*0\r\n") ==
        "CLUSTER SHARDS reply: a shard's nodes are not a list");
  CHECK(shardsError("*1\r\n%2\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n*1\r\n%1\r\n$2\r\nid\r\n"
                    "$1\r\nx\r\n") == "CLUSTER SHARDS reply: node x has no role");
  CHECK(shardsError("*1\r\n%2\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n*1\r\n%2\r\n$2\r\nid\r\n"
                    "$1\r\nx\r\n$4\r\nrole\r\n$4\r\nboss\r\n") ==
        "CLUSTER SHARDS reply: unknown node role \"boss\"");
  CHECK(shardsError("*1\r\n%2\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n*1\r\n%2\r\n$2\r\nid\r\n"
                    "$1\r\nx\r\n$4\r\nrole\r\n$6\r\nmaster\r\n") ==
        "CLUSTER SHARDS reply: node x has no port");
  // Bytes after the reply are not ignored: the caller hands exactly one frame.
  CHECK(!shardsError(std::string(kShardsResp3) + "+OK\r\n").empty());
}

TEST_CASE("slot map: every truncation of a real reply is an error, never a crash or a map") {
  for (std::string_view reply : {kSlotsHostnameResp2, kShardsResp3, kShardsUnknownResp2}) {
    for (size_t n = 0; n < reply.size(); ++n) {
      CHECK_FALSE(parseClusterSlots(reply.substr(0, n)).map);
      CHECK_FALSE(parseClusterShards(reply.substr(0, n)).map);
    }
  }
}

TEST_CASE("slot map: the wrong parser for a reply says so") {
  CHECK_FALSE(parseClusterShards(kSlotsResp2).map);
  CHECK_FALSE(parseClusterSlots(kShardsResp2).map);
}

}  // namespace
}  // namespace kw::cluster

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <vector>

#include <doctest.h>

#include "proxy/topology.h"

namespace kw {
namespace {

sockaddr_storage loopback(uint16_t port) {
  sockaddr_storage s{};
  auto* in = reinterpret_cast<sockaddr_in*>(&s);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return s;
}

std::shared_ptr<const Topology> threeMasters(const Topology* previous, uint64_t generation,
                                             uint16_t third_master_port) {
  Topology::Builder b(previous, generation);
  const NodeId a = b.node("127.0.0.1:7001", loopback(7001), true, kNoNode);
  const NodeId c = b.node("127.0.0.1:7002", loopback(7002), true, kNoNode);
  const NodeId d = b.node("127.0.0.1:" + std::to_string(third_master_port),
                          loopback(third_master_port), true, kNoNode);
  b.assign(0, 5460, a);
  b.assign(5461, 10922, c);
  b.assign(10923, 16383, d);
  return b.build();
}

TEST_CASE(
    "a cluster topology: masters by slot, ids kept across refreshes, the lowest slot's master "
    "takes keyless requests") {
  auto t1 = threeMasters(nullptr, 1, 7003);
  REQUIRE(t1->masters().size() == 3);
  CHECK(t1->nodeForSlot(0) == 0);
  CHECK(t1->nodeForSlot(10922) == 1);
  CHECK(t1->nodeForSlot(16383) == 2);
  CHECK(t1->anyNode() == 0);
  CHECK(t1->findHostPort("127.0.0.1", 7002) == 1);
  // The third master failed over to 7004: 7001 and 7002 keep their ids, 7003 is gone.
  auto t2 = threeMasters(t1.get(), 2, 7004);
  CHECK(t2->node(0).name == "127.0.0.1:7001");
  CHECK(t2->node(1).name == "127.0.0.1:7002");
  CHECK(t2->node(2).gone);
  CHECK(t2->nodeForSlot(16383) == 3);
  CHECK(t2->masters() == std::vector<NodeId>{0, 1, 3});
}

TEST_CASE("a master that serves no slot (a failed one the cluster still lists, an empty new one) "
          "is not among the masters") {
  Topology::Builder b(nullptr, 1);
  const NodeId a = b.node("127.0.0.1:7001", loopback(7001), true, kNoNode);
  const NodeId failed = b.node("127.0.0.1:7002", loopback(7002), true, kNoNode);
  const NodeId promoted = b.node("127.0.0.1:7005", loopback(7005), true, kNoNode);
  b.node("127.0.0.1:7006", loopback(7006), false, a);
  b.assign(0, 8191, a);
  b.assign(8192, 16383, promoted);
  auto t = b.build();
  CHECK(t->masters() == std::vector<NodeId>{a, promoted});
  CHECK_FALSE(t->node(failed).gone);  // still known (a MOVED may name it), not a master to ask
  CHECK(t->nodes().size() == 4);
}

}  // namespace
}  // namespace kw

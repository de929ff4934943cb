// Parses the input as a CLUSTER SHARDS and as a CLUSTER SLOTS reply. Whatever the bytes, a parse
// either fails with a message or yields a map whose every index is in range and whose links
// agree (slot owners are masters, replicas point at masters that list them); the SCAN cursor
// codec built from such a map round-trips.
#include <cstdint>
#include <string_view>
#include <vector>

#include "cluster/scan_cursor.h"
#include "cluster/slot_map.h"
#include "fuzz_check.h"

namespace {

using namespace kw::cluster;

void checkMap(const SlotMapParse& p) {
  FUZZ_CHECK((p.map == nullptr) != p.error.empty());
  if (!p.map)
    return;
  const SlotMap& m = *p.map;
  const size_t n = m.nodes().size();
  FUZZ_CHECK(n <= SlotMap::kMaxNodes);
  size_t covered = 0;
  std::vector<bool> owns(n, false);
  for (uint32_t s = 0; s < kSlotCount; ++s) {
    const uint16_t o = m.nodeForSlot(static_cast<uint16_t>(s));
    if (o == SlotMap::kNoNode)
      continue;
    FUZZ_CHECK(o < n);
    FUZZ_CHECK(m.node(o).role == NodeRole::kMaster);
    owns[o] = true;
    ++covered;
  }
  FUZZ_CHECK(covered == m.coveredSlots());
  size_t owning = 0;
  for (size_t i = 0; i < n; ++i)
    owning += owns[i];
  FUZZ_CHECK(owning == m.masters().size());
  for (const uint16_t master : m.masters())
    FUZZ_CHECK(master < n && owns[master]);
  for (size_t i = 0; i < n; ++i) {
    const ClusterNode& node = m.node(static_cast<uint16_t>(i));
    FUZZ_CHECK(!node.id.empty());
    FUZZ_CHECK(node.port != 0 || node.tls_port != 0);
    FUZZ_CHECK((node.endpoint == Endpoint::kAddress) == !node.host.empty());
    for (const uint16_t r : node.replicas) {
      FUZZ_CHECK(r < n);
      FUZZ_CHECK(m.node(r).master == i);
    }
    if (node.master != SlotMap::kNoNode)
      FUZZ_CHECK(node.master < n);
    FUZZ_CHECK(m.findNode(node.host, node.port) != SlotMap::kNoNode || node.port == 0 ||
               node.endpoint == Endpoint::kUnknown);
  }
  FUZZ_CHECK(m.sameRouting(m));
  const ScanCursorCodec codec = ScanCursorCodec::forMap(m);
  for (uint16_t i = 0; i < codec.masterCount(); ++i) {
    const auto c = codec.next(i, 12345);
    FUZZ_CHECK(c.has_value());
    const auto pos = codec.decode(*c);
    FUZZ_CHECK(pos.has_value() && pos->master == i && pos->node_cursor == 12345);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  checkMap(parseClusterShards(in));
  checkMap(parseClusterSlots(in));
  return 0;
}

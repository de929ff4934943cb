#include <string>
#include <vector>

#include <doctest.h>

#include "cluster/scan_cursor.h"
#include "cluster_replies.h"

namespace kw::cluster {
namespace {

const std::vector<std::string> kThree = {"3a1defa9cc894bc07a5fe7bc3954a6f39649b0dc",
                                         "2b814c0c7d51f500e16eaf0a4ea7c2c3f8cf26aa",
                                         "897a482eef7bf643b9103af06b7e2fd35ec157fb"};

ScanPosition decoded(const ScanCursorCodec& codec, const std::string& cursor) {
  const auto pos = codec.decode(cursor);
  INFO("cursor " << cursor);
  REQUIRE(pos.has_value());
  return *pos;
}

TEST_CASE("scan cursor: a walk over three masters never says 0 before the last is done") {
  const ScanCursorCodec codec(kThree);
  ScanPosition pos = decoded(codec, "0");
  CHECK(pos.master == 0);
  CHECK(pos.node_cursor == 0);
  // Master 0 answers 17, then 0: the client is moved to master 1 with a non-zero cursor.
  std::string c = *codec.next(0, 17);
  CHECK(c != "0");
  pos = decoded(codec, c);
  CHECK(pos.master == 0);
  CHECK(pos.node_cursor == 17);
  c = *codec.next(0, 0);
  CHECK(c != "0");
  pos = decoded(codec, c);
  CHECK(pos.master == 1);
  CHECK(pos.node_cursor == 0);
  c = *codec.next(1, 0);
  CHECK(c != "0");
  pos = decoded(codec, c);
  CHECK(pos.master == 2);
  CHECK(pos.node_cursor == 0);
  c = *codec.next(2, 123456789);
  pos = decoded(codec, c);
  CHECK(pos.master == 2);
  CHECK(pos.node_cursor == 123456789);
  CHECK(*codec.next(2, 0) == "0");
}

TEST_CASE("scan cursor: a plain unsigned 64-bit decimal") {
  const ScanCursorCodec codec(kThree);
  for (uint64_t node_cursor :
       {uint64_t{1}, uint64_t{4095}, uint64_t{1} << 40, (uint64_t{1} << 50) - 1}) {
    for (uint16_t m = 0; m < 3; ++m) {
      const auto c = codec.next(m, node_cursor);
      REQUIRE(c.has_value());
      CHECK(c->find_first_not_of("0123456789") == std::string::npos);
      CHECK(c->size() <= 20);
      const ScanPosition pos = decoded(codec, *c);
      CHECK(pos.master == m);
      CHECK(pos.node_cursor == node_cursor);
    }
  }
  // Three masters leave 64 - 12 - 2 bits for a node's cursor.
  CHECK_FALSE(codec.next(0, uint64_t{1} << 50).has_value());
  CHECK_FALSE(codec.next(3, 1).has_value());
}

TEST_CASE("scan cursor: invalid cursors are refused as Redis refuses them") {
  const ScanCursorCodec codec(kThree);
  for (std::string bad : {"", "abc", "-1", "+5", " 5", "5 ", "1.0", "18446744073709551616",
                          "99999999999999999999999", "1", "2", "3"}) {
    CAPTURE(bad);
    CHECK_FALSE(codec.decode(bad).has_value());
  }
  CHECK(kInvalidCursorError == "-ERR invalid cursor\r\n");
}

TEST_CASE("scan cursor: a cursor from another topology is detected") {
  const ScanCursorCodec before(kThree);
  std::vector<std::string> failed_over = kThree;
  failed_over[1] = "3163d8217d03ef8d4f59f3c8e9e406b02d54d4a9";  // its replica took over
  const ScanCursorCodec after(failed_over);
  std::vector<std::string> grown = kThree;
  grown.push_back("0000000000000000000000000000000000000004");
  const ScanCursorCodec bigger(grown);
  int stale_accepted = 0;
  for (uint64_t node_cursor = 1; node_cursor <= 2000; ++node_cursor) {
    const std::string c = *before.next(1, node_cursor);
    stale_accepted += after.decode(c).has_value();
    stale_accepted += bigger.decode(c).has_value();
  }
  // The check is 12 bits of one hash per (topology, master): a stale cursor is refused always
  // or passes always for that master, whatever the node cursor.
  CHECK(stale_accepted == 0);
  // Masters the failover did not touch keep their cursors... unless the count changed.
  CHECK(after.decode(*before.next(0, 5)).has_value());
  CHECK_FALSE(bigger.decode(*before.next(0, 5)).has_value());
}

TEST_CASE("scan cursor: no masters, no walk; one master, one walk") {
  const ScanCursorCodec none({});
  CHECK_FALSE(none.decode("0").has_value());
  CHECK_FALSE(none.next(0, 0).has_value());
  const ScanCursorCodec one({"x"});
  CHECK(*one.next(0, 0) == "0");
  CHECK(decoded(one, *one.next(0, 9)).node_cursor == 9);
}

TEST_CASE("scan cursor: built from a slot map, in masters() order") {
  const auto parsed = parseClusterSlots(cluster_replies::kSlotsMultiResp2);
  REQUIRE(parsed.map);
  const ScanCursorCodec codec = ScanCursorCodec::forMap(*parsed.map);
  CHECK(codec.masterCount() == 3);
  const ScanCursorCodec same({"897a482eef7bf643b9103af06b7e2fd35ec157fb",
                              "3a1defa9cc894bc07a5fe7bc3954a6f39649b0dc",
                              "2b814c0c7d51f500e16eaf0a4ea7c2c3f8cf26aa"});
  CHECK(*codec.next(1, 42) == *same.next(1, 42));
}

TEST_CASE("scan cursor: a thousand masters") {
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i)
    ids.push_back("node-" + std::to_string(i));
  const ScanCursorCodec codec(ids);
  for (uint16_t m = 0; m < 1000; m += 37) {
    const ScanPosition pos = decoded(codec, *codec.next(m, 99));
    CHECK(pos.master == m);
    CHECK(pos.node_cursor == 99);
  }
  CHECK(decoded(codec, *codec.next(998, 0)).master == 999);
  CHECK(*codec.next(999, 0) == "0");
}

}  // namespace
}  // namespace kw::cluster

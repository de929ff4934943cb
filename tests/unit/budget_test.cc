// The memory budgets' building blocks, alone: the per-key index, the eviction pool (with an
// injected clock), and the reply parser.
#include <doctest.h>

#include <random>
#include <string>
#include <unordered_map>

#include "budget/eviction_pool.h"
#include "budget/key_index.h"
#include "budget/resp_reply.h"

namespace kw {

TEST_CASE("key index: insert, find, bytes and totals") {
  KeyIndex idx;
  bool created = false;
  const uint32_t a = idx.insert("doc:a", &created);
  CHECK(created);
  CHECK(idx.insert("doc:a", &created) == a);
  CHECK_FALSE(created);
  const uint32_t b = idx.insert("doc:b", &created);
  CHECK(a != b);
  CHECK(idx.find("doc:a") == a);
  CHECK(idx.find("doc:c") == KeyIndex::kNone);
  CHECK(idx.key(b) == "doc:b");
  CHECK(idx.size() == 2);
  CHECK(idx.measuredCount() == 0);
  CHECK(idx.totalBytes() == 0);
  idx.setBytes(a, 100);
  idx.setBytes(b, 50);
  idx.setBytes(a, 120);  // measured again
  CHECK(idx.totalBytes() == 170);
  CHECK(idx.measuredCount() == 2);
  CHECK(idx.has(a, KeyIndex::kMeasured));
  idx.remove(a);
  CHECK(idx.find("doc:a") == KeyIndex::kNone);
  CHECK(idx.totalBytes() == 50);
  CHECK(idx.size() == 1);
  CHECK(idx.measuredCount() == 1);
  // The freed id is reused, unmeasured and without flags.
  const uint32_t c = idx.insert("doc:c", &created);
  CHECK(c == a);
  CHECK_FALSE(idx.has(c, KeyIndex::kMeasured));
  CHECK(idx.bytes(c) == 0);
  // Sizes beyond 32 bits are counted as the largest one.
  idx.setBytes(c, uint64_t{1} << 40);
  CHECK(idx.bytes(c) == KeyIndex::kMaxBytes);
  // Empty and binary keys.
  const uint32_t e = idx.insert(std::string_view("", 0), &created);
  CHECK(created);
  CHECK(idx.find("") == e);
  const std::string bin("a\0b\r\n", 5);
  const uint32_t f = idx.insert(bin, &created);
  CHECK(idx.find(bin) == f);
  CHECK(idx.find("a") == KeyIndex::kNone);
}

TEST_CASE("key index: flags") {
  KeyIndex idx;
  bool created = false;
  const uint32_t a = idx.insert("x", &created);
  const uint32_t b = idx.insert("y", &created);
  idx.set(a, KeyIndex::kQueued);
  idx.set(a, KeyIndex::kSeen);
  idx.set(b, KeyIndex::kSeen);
  CHECK(idx.has(a, KeyIndex::kQueued));
  CHECK_FALSE(idx.has(b, KeyIndex::kQueued));
  idx.unsetAll(KeyIndex::kSeen);
  CHECK_FALSE(idx.has(a, KeyIndex::kSeen));
  CHECK_FALSE(idx.has(b, KeyIndex::kSeen));
  CHECK(idx.has(a, KeyIndex::kQueued));
  CHECK(idx.key(a) == "x");  // flags live beside the length, not in it
  idx.unset(a, KeyIndex::kQueued);
  CHECK_FALSE(idx.has(a, KeyIndex::kQueued));
}

TEST_CASE("key index: random operations agree with a reference map") {
  KeyIndex idx;
  std::unordered_map<std::string, uint64_t> ref;
  std::mt19937 rng(7);
  uint64_t total = 0;
  for (int op = 0; op < 200000; ++op) {
    const std::string key = "k:" + std::to_string(rng() % 5000);
    const int what = static_cast<int>(rng() % 10);
    if (what < 5) {
      bool created = false;
      const uint32_t id = idx.insert(key, &created);
      REQUIRE(id != KeyIndex::kNone);
      CHECK(created == (ref.count(key) == 0));
      const uint64_t bytes = rng() % 1000;
      total -= ref[key];
      ref[key] = bytes;
      total += bytes;
      idx.setBytes(id, bytes);
    } else if (what < 9) {
      const uint32_t id = idx.find(key);
      CHECK((id != KeyIndex::kNone) == (ref.count(key) == 1));
      if (id != KeyIndex::kNone) {
        idx.remove(id);
        total -= ref[key];
        ref.erase(key);
      }
    } else {
      std::vector<uint32_t> map = idx.compact();
      (void)map;
    }
    if (op % 10000 == 0) {
      CHECK(idx.size() == ref.size());
      CHECK(idx.totalBytes() == total);
      for (const auto& [k, v] : ref) {
        const uint32_t id = idx.find(k);
        REQUIRE(id != KeyIndex::kNone);
        CHECK(idx.bytes(id) == v);
      }
    }
  }
  CHECK(idx.size() == ref.size());
  CHECK(idx.totalBytes() == total);
}

TEST_CASE("key index: compact renumbers and keeps every key") {
  KeyIndex idx;
  bool created = false;
  for (int i = 0; i < 4000; ++i)
    idx.setBytes(idx.insert("key:" + std::to_string(i), &created), 10);
  CHECK(idx.compact().empty());  // nothing worth doing
  for (int i = 0; i < 4000; i += 2)
    idx.remove(idx.find("key:" + std::to_string(i)));
  const std::vector<uint32_t> map = idx.compact();
  REQUIRE(map.size() == 4000);
  CHECK(idx.idLimit() == 2000);
  for (int i = 0; i < 4000; ++i) {
    const uint32_t id = idx.find("key:" + std::to_string(i));
    if (i % 2 == 0) {
      CHECK(id == KeyIndex::kNone);
    } else {
      CHECK(id != KeyIndex::kNone);
      CHECK(id < 2000);
    }
  }
  CHECK(idx.totalBytes() == 20000);
}

TEST_CASE("key index: sampling returns measured keys only, spread over all of them") {
  KeyIndex idx;
  bool created = false;
  std::mt19937_64 rng(1);
  CHECK(idx.sample([&] { return rng(); }) == KeyIndex::kNone);
  for (int i = 0; i < 100; ++i) {
    const uint32_t id = idx.insert("s:" + std::to_string(i), &created);
    if (i % 2 == 0)
      idx.setBytes(id, 1);
  }
  std::vector<int> hits(100, 0);
  for (int n = 0; n < 20000; ++n) {
    const uint32_t id = idx.sample([&] { return rng(); });
    if (id == KeyIndex::kNone)
      continue;
    REQUIRE(idx.has(id, KeyIndex::kMeasured));
    ++hits[std::stoi(std::string(idx.key(id).substr(2)))];
  }
  for (int i = 0; i < 100; ++i) {
    if (i % 2 == 1)
      CHECK(hits[i] == 0);
    else
      CHECK(hits[i] > 200);  // ~400 each
  }
}

TEST_CASE("key index: at most 48 bytes per key plus the key") {
  for (int n : {1000, 100000}) {  // 1M: bench/budget_index_bench.cc
    KeyIndex idx;
    bool created = false;
    size_t key_bytes = 0;
    for (int i = 0; i < n; ++i) {
      const std::string key = "doc:processing:" + std::to_string(i);
      key_bytes += key.size();
      idx.setBytes(idx.insert(key, &created), 1100);
    }
    const double per_key =
        static_cast<double>(idx.memoryBytes() - key_bytes) / static_cast<double>(n);
    INFO("keys " << n << ": " << per_key << " bytes per key beyond the key");
    // The keys' allocations are rounded up to allocator classes (counted here, against us).
    CHECK(per_key <= 48.0);
  }
}

TEST_CASE("eviction pool: the idlest go first, until enough bytes") {
  EvictionPool pool(8, 1000, true);
  int64_t now = 10000;
  pool.add("a", 100, 5, now);
  pool.add("b", 100, 50, now);
  pool.add("c", 100, 20, now);
  pool.add("d", 100, 0, now);
  auto all = [](EvictionPool::Candidate&) { return true; };
  std::vector<EvictionPool::Candidate> v = pool.take(150, 10, now, all);
  REQUIRE(v.size() == 2);
  CHECK(v[0].key == "b");
  CHECK(v[1].key == "c");
  CHECK(pool.size() == 2);  // a and d stay for later rounds
  v = pool.take(100, 10, now, all);
  REQUIRE(v.size() == 1);
  CHECK(v[0].key == "a");
}

TEST_CASE("eviction pool: at most max_keys, and unusable candidates are skipped") {
  EvictionPool pool(8, 1000, true);
  for (int i = 0; i < 6; ++i)
    pool.add(std::string("k").append(std::to_string(i)), 10, i, 0);
  std::vector<EvictionPool::Candidate> v =
      pool.take(1000, 2, 0, [](EvictionPool::Candidate& c) { return c.key != "k5"; });
  REQUIRE(v.size() == 2);
  CHECK(v[0].key == "k4");
  CHECK(v[1].key == "k3");
  // `usable` may refresh the size.
  v = pool.take(25, 10, 0, [](EvictionPool::Candidate& c) {
    c.bytes = 20;
    return true;
  });
  REQUIRE(v.size() == 2);
  CHECK(v[0].bytes == 20);
}

TEST_CASE("eviction pool: readings age with the injected clock and expire") {
  EvictionPool pool(8, 1000, true);
  pool.add("old", 10, 3, 0);      // idle 3 s when read at t=0 -> 3.9 s at t=900
  pool.add("new", 10, 3.5, 900);  // idle 3.5 s at t=900
  std::vector<EvictionPool::Candidate> v =
      pool.take(10, 1, 900, [](EvictionPool::Candidate&) { return true; });
  REQUIRE(v.size() == 1);
  CHECK(v[0].key == "old");
  // Past max_age_ms a reading is dropped: the key may have been read since.
  pool.add("stale", 10, 100, 1000);
  v = pool.take(10, 1, 2001, [](EvictionPool::Candidate&) { return true; });
  CHECK(v.empty());
  CHECK(pool.size() == 0);
}

TEST_CASE("eviction pool: LFU scores do not age; a newer reading replaces an older one") {
  EvictionPool pool(8, 60000, false);
  pool.add("a", 10, 250, 0);
  pool.add("b", 10, 200, 0);
  pool.add("a", 10, 100, 50000);  // read again: hot now
  std::vector<EvictionPool::Candidate> v =
      pool.take(10, 1, 50000, [](EvictionPool::Candidate&) { return true; });
  REQUIRE(v.size() == 1);
  CHECK(v[0].key == "b");
  CHECK(pool.size() == 1);
}

TEST_CASE("eviction pool: keeps at most `capacity` candidates across rounds") {
  EvictionPool pool(3, 1000, true);
  for (int i = 0; i < 10; ++i)
    pool.add(std::string("k").append(std::to_string(i)), 1, i, 0);
  std::vector<EvictionPool::Candidate> v =
      pool.take(1, 1, 0, [](EvictionPool::Candidate&) { return true; });
  REQUIRE(v.size() == 1);
  CHECK(v[0].key == "k9");
  CHECK(pool.size() == 3);
  v = pool.take(100, 100, 0, [](EvictionPool::Candidate&) { return true; });
  REQUIRE(v.size() == 3);
  CHECK(v[0].key == "k8");
  CHECK(v[2].key == "k6");
}

TEST_CASE("resp reply: the shapes the budgets read") {
  RespReply r;
  REQUIRE(r.parse(":42\r\n"));
  int64_t v = 0;
  CHECK(respInteger(r.root(), &v));
  CHECK(v == 42);
  REQUIRE(r.parse("*2\r\n$1\r\n0\r\n*2\r\n$3\r\nk:1\r\n$0\r\n\r\n"));
  CHECK(r.root().count == 2);
  CHECK(r.child(r.root(), 0).text == "0");
  const RespNode& keys = r.child(r.root(), 1);
  CHECK(keys.count == 2);
  CHECK(r.child(keys, 0).text == "k:1");
  CHECK(r.child(keys, 1).text.empty());
  CHECK(r.child(keys, 5).type == RespNode::Type::kNull);
  REQUIRE(r.parse("*3\r\n:1\r\n:-1\r\n:1099\r\n"));
  CHECK(r.child(r.root(), 1).integer == -1);
  REQUIRE(r.parse("$-1\r\n"));
  CHECK(r.root().type == RespNode::Type::kNull);
  REQUIRE(r.parse("_\r\n"));
  CHECK(r.root().type == RespNode::Type::kNull);
  REQUIRE(r.parse("-ERR boom\r\n"));
  CHECK(r.root().type == RespNode::Type::kError);
  CHECK(r.root().text == "ERR boom");
  REQUIRE(r.parse("%2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n+save\r\n$0\r\n\r\n"));
  CHECK(r.field(r.root(), "maxmemory").text == "0");
  CHECK(r.field(r.root(), "save").isText());
  CHECK(r.field(r.root(), "nope").type == RespNode::Type::kNull);
  REQUIRE(r.parse("*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"));
  CHECK(r.field(r.root(), "b").text == "2");
  REQUIRE(r.parse("=8\r\ntxt:abcd\r\n"));
  CHECK(r.root().text == "abcd");
  REQUIRE(r.parse("#t\r\n"));
  CHECK(r.root().integer == 1);
}

TEST_CASE("resp reply: malformed replies are refused, never overread") {
  RespReply r;
  for (const char* bad : {"", ":", ":12", ":1x\r\n", "$5\r\nabc\r\n", "$3\r\nabcd\r\n",
                          "*2\r\n:1\r\n", "*99999999999\r\n", "*-2\r\n", "$-2\r\n", ":1\r\n:2\r\n",
                          "?\r\n", "%1\r\n:1\r\n", "=3\r\nabc\r\n", "#x\r\n", "_x\r\n"}) {
    INFO(bad);
    CHECK_FALSE(r.parse(bad));
    CHECK(r.root().type == RespNode::Type::kNull);
  }
  std::string deep;
  for (int i = 0; i < 100; ++i)
    deep += "*1\r\n";
  deep += ":1\r\n";
  CHECK_FALSE(r.parse(deep));  // nesting is bounded
}

}  // namespace kw

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <doctest.h>

#include "cache/near_cache.h"

namespace kw {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

struct Cache {
  CacheStatsShard stats;
  NearCache cache{1 << 20, &stats};
  int64_t now = 1000;

  uint64_t begin(std::string_view k, uint32_t slot = 0) {
    return cache.beginFill(k, keyHash(k), slot, now);
  }
  bool fill(std::string_view k, uint64_t id, std::string_view v, int64_t exp = kNever) {
    return cache.fillString(k, keyHash(k), id, v, exp);
  }
  const NearCache::Entry* get(std::string_view k) { return cache.lookup(k, keyHash(k), now); }
  bool invalidate(std::string_view k) { return cache.invalidate(k, keyHash(k)); }
};

TEST_CASE("a fill is stored as the RESP bulk and found again") {
  Cache c;
  CHECK(c.get("k") == nullptr);
  const uint64_t id = c.begin("k");
  REQUIRE(id != 0);
  CHECK(c.get("k") == nullptr);  // a marker is not a value
  CHECK(c.fill("k", id, "hello"));
  const NearCache::Entry* e = c.get("k");
  REQUIRE(e);
  CHECK(e->kind == NearCache::Kind::kString);
  CHECK(e->value == "$5\r\nhello\r\n");
  CHECK(c.stats.ns[0].entries.get() == 1);
  CHECK(c.stats.ns[0].fills.get() == 1);
}

TEST_CASE("the fill race: a reply that an invalidation overtook is not stored") {
  Cache c;
  const uint64_t id = c.begin("k");
  CHECK(c.invalidate("k"));  // the key was written while the GET was in flight
  CHECK_FALSE(c.fill("k", id, "stale"));
  CHECK(c.get("k") == nullptr);

  // A read that starts after the invalidation gets a new id: the old reply cannot use it.
  const uint64_t fresh = c.begin("k");
  CHECK(fresh != id);
  CHECK_FALSE(c.fill("k", id, "stale"));
  CHECK(c.fill("k", fresh, "new"));
  CHECK(c.get("k")->value == "$3\r\nnew\r\n");
}

TEST_CASE("two reads in flight share the marker; either may store, the other changes nothing") {
  Cache c;
  const uint64_t a = c.begin("k");
  const uint64_t b = c.begin("k");
  CHECK(a == b);
  CHECK(c.fill("k", b, "v"));
  CHECK(c.fill("k", a, "v"));
  CHECK(c.get("k")->value == "$1\r\nv\r\n");
  CHECK(c.stats.ns[0].fills.get() == 1);
}

TEST_CASE("nil answers are cached; every kind is invalidated") {
  Cache c;
  uint64_t id = c.begin("absent");
  CHECK(c.cache.fillAbsent("absent", keyHash("absent"), id, kNever));
  REQUIRE(c.get("absent"));
  CHECK(c.get("absent")->kind == NearCache::Kind::kAbsent);
  CHECK(c.invalidate("absent"));
  CHECK(c.get("absent") == nullptr);
  CHECK_FALSE(c.invalidate("absent"));
  CHECK(c.stats.ns[0].invalidations.get() == 1);
}

TEST_CASE("expiry: an entry is never served at or past its key's TTL") {
  Cache c;
  const uint64_t id = c.begin("k");
  CHECK(c.fill("k", id, "v", c.now + 500));
  c.now += 499;
  CHECK(c.get("k"));
  c.now += 1;
  CHECK(c.get("k") == nullptr);
  CHECK(c.stats.ns[0].expired.get() == 1);
  CHECK(c.cache.entries() == 0);
}

TEST_CASE("the LRU keeps the cache within its byte budget, evicting the least recently used") {
  CacheStatsShard stats;
  const std::string v(200, 'x');
  const uint64_t per = NearCache::kEntryOverhead + 16 + 220;  // roughly one entry
  NearCache cache(per * 4, &stats);
  auto put = [&](const std::string& k) {
    const uint64_t id = cache.beginFill(k, keyHash(k), 1, 0);
    return cache.fillString(k, keyHash(k), id, v, kNever);
  };
  for (int i = 0; i < 4; ++i)
    put("key:" + std::to_string(i));
  CHECK(cache.bytes() <= cache.maxBytes());
  const size_t held = cache.entries();
  CHECK(held >= 3);
  // key:0 is read, so key:1 is the least recently used when key:9 comes.
  CHECK(cache.lookup("key:0", keyHash("key:0"), 0));
  put("key:9");
  CHECK(cache.bytes() <= cache.maxBytes());
  CHECK(cache.lookup("key:0", keyHash("key:0"), 0));
  CHECK(cache.lookup("key:9", keyHash("key:9"), 0));
  CHECK(cache.lookup("key:1", keyHash("key:1"), 0) == nullptr);
  CHECK(stats.ns[1].evictions.get() >= 1);
  CHECK(stats.ns[1].bytes.get() == static_cast<int64_t>(cache.bytes()));
  // A smaller budget evicts at once.
  cache.setMaxBytes(per);
  CHECK(cache.bytes() <= per);
}

TEST_CASE("a block refuses fills until it ends; invalidations do not lift it") {
  Cache c;
  const uint64_t before = c.begin("k");
  c.cache.block("k", keyHash("k"), 0, c.now + 100);
  CHECK_FALSE(c.fill("k", before, "old"));
  CHECK(c.begin("k") == 0);
  CHECK_FALSE(c.invalidate("k"));
  CHECK(c.begin("k") == 0);
  c.now += 100;
  const uint64_t id = c.begin("k");
  CHECK(id != 0);
  CHECK(c.fill("k", id, "new"));
  CHECK(c.get("k"));
}

TEST_CASE("hash fields: partial answers merge; HGETALL makes the hash complete") {
  Cache c;
  const std::string k = "h";
  const uint64_t id = c.begin(k);
  const std::vector<std::string_view> f1 = {"a", "zz"};
  const std::vector<std::optional<std::string_view>> v1 = {"1", std::nullopt};
  CHECK(c.cache.fillHashFields(k, keyHash(k), id, f1, v1, kNever));
  const NearCache::Entry* e = c.get(k);
  REQUIRE(e);
  REQUIRE(e->kind == NearCache::Kind::kHash);
  CHECK_FALSE(e->hash_value->complete);
  CHECK(e->hash_value->find("a")->second == "1");
  CHECK_FALSE(e->hash_value->find("zz")->second.has_value());
  CHECK(e->hash_value->find("b") == nullptr);
  // Another field read later: the same record (no invalidation since) takes it.
  const uint64_t id2 = c.begin(k);
  CHECK(id2 == id);
  const std::vector<std::string_view> f2 = {"b"};
  const std::vector<std::optional<std::string_view>> v2 = {"2"};
  CHECK(c.cache.fillHashFields(k, keyHash(k), id2, f2, v2, kNever));
  CHECK(c.get(k)->hash_value->find("b")->second == "2");
  const std::vector<std::string_view> all = {"a", "1", "b", "2"};
  CHECK(c.cache.fillHashAll(k, keyHash(k), c.begin(k), all, kNever));
  CHECK(c.get(k)->hash_value->complete);
  CHECK(c.get(k)->hash_value->fields.size() == 2);
  // An empty HGETALL: the key does not exist.
  CHECK(c.invalidate(k));
  CHECK(c.cache.fillHashAll(k, keyHash(k), c.begin(k), {}, kNever));
  CHECK(c.get(k)->kind == NearCache::Kind::kAbsent);
}

TEST_CASE("clear and clearSlot keep the counters right") {
  Cache c;
  for (int i = 0; i < 10; ++i) {
    const std::string k = std::string("k").append(std::to_string(i));
    c.fill(k, c.cache.beginFill(k, keyHash(k), static_cast<uint32_t>(i % 2), c.now), "v");
  }
  c.cache.clearSlot(1);
  CHECK(c.cache.entries() == 5);
  CHECK(c.stats.ns[1].entries.get() == 0);
  CHECK(c.stats.ns[1].bytes.get() == 0);
  c.cache.clear();
  CHECK(c.cache.entries() == 0);
  CHECK(c.cache.bytes() == 0);
  CHECK(c.stats.ns[0].bytes.get() == 0);
}

TEST_CASE("many keys: the index finds every one and forgets the removed ones") {
  Cache c;
  for (int i = 0; i < 5000; ++i) {
    const std::string k = "key:" + std::to_string(i);
    REQUIRE(c.fill(k, c.begin(k), std::to_string(i)));
  }
  for (int i = 0; i < 5000; i += 3)
    CHECK(c.invalidate("key:" + std::to_string(i)));
  for (int i = 0; i < 5000; ++i) {
    const std::string k = "key:" + std::to_string(i);
    CAPTURE(k);
    CHECK((c.get(k) != nullptr) == (i % 3 != 0));
  }
}

}  // namespace
}  // namespace kw

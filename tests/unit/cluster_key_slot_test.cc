#include <string>
#include <string_view>

#include <doctest.h>

#include "cluster/key_slot.h"

namespace kw::cluster {
namespace {

using namespace std::string_view_literals;

struct Known {
  std::string_view key;
  uint16_t slot;
};

// Every slot below is what `CLUSTER KEYSLOT <key>` answered on a Redis 7.0.15 cluster node.
constexpr Known kKnown[] = {
    {"foo", 12182},
    {"bar", 5061},
    {"{user1000}.following", 3443},
    {"{user1000}.followers", 3443},
    {"foo{}{bar}", 8363},
    {"foo{{bar}}zap", 4015},
    {"foo{bar}{zap}", 5061},
    {"{}", 15257},
    {"{{a}}", 10276},
    {"a{}{b}", 15033},
    {"", 0},
    {"{", 4092},
    {"}", 12090},
    {"{a", 10276},
    {"a}", 5921},
    {"}{a}", 15495},
    {"{a}{b}", 15495},
    {"a{b}c", 3300},
    {"123456789", 12739},
    {"{a}", 15495},
    {"a", 15495},
    {"hello world", 15332},
    {"{user:1}:profile", 10778},
    {"session:11111111-2222-3333-4444-555555555555:s1", 6182},
    // Binary keys (sent as bulk strings).
    {"\x00"sv, 0},
    {"\xff\xfe"sv, 3374},
    {"\x01{\x02}\x03"sv, 8258},
    {"a\x00"
     "b"sv,
     8383},
    {"{\x00}x"sv, 0},
    {"\x00{\x00}"sv, 0},
    {"{\xff}"sv, 7920},
    {"\xff"sv, 7920},
};

TEST_CASE("key slot: the slots a real Redis Cluster computes") {
  for (const Known& k : kKnown) {
    CAPTURE(std::string(k.key));
    CHECK(keySlot(k.key) == k.slot);
  }
}

TEST_CASE("key slot: all 256 byte values in one key") {
  std::string all;
  for (int b = 0; b < 256; ++b)
    all.push_back(static_cast<char>(b));
  CHECK(keySlot(all) == 16155);  // CLUSTER KEYSLOT on Redis 7.0.15
}

TEST_CASE("crc16: the XMODEM check value") {
  // The standard check input of every CRC catalogue; Redis's crc16.c says 0x31C3.
  CHECK(crc16("123456789") == 0x31C3);
  CHECK(crc16("") == 0);
}

TEST_CASE("hash tag: the first '{', then the first '}' after it, not empty") {
  CHECK(hashTag("{user1000}.following") == "user1000");
  CHECK(hashTag("foo{}{bar}") == "foo{}{bar}");
  CHECK(hashTag("foo{{bar}}zap") == "{bar");
  CHECK(hashTag("foo{bar}{zap}") == "bar");
  CHECK(hashTag("{a") == "{a");
  CHECK(hashTag("a}{") == "a}{");
  CHECK(hashTag("}{x}") == "x");
  CHECK(hashTag("") == "");
}

TEST_CASE("key slot: keys sharing a tag share a slot; every slot is in range") {
  CHECK(keySlot("{tenant-7}:cache:a") == keySlot("{tenant-7}:data:b"));
  CHECK(keySlot("{tenant-7}") == keySlot("tenant-7"));
  for (int i = 0; i < 1000; ++i)
    CHECK(keySlot("key:" + std::to_string(i)) < kSlotCount);
}

}  // namespace
}  // namespace kw::cluster

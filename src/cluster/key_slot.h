// Redis Cluster's key -> hash slot function, exactly as Redis computes it (cluster.c keyHashSlot):
// CRC16/XMODEM of the key, or of its hash tag, modulo 16384.
//
//   key                  hashed part        why
//   "user:1"             "user:1"           no '{'
//   "{user:1}:profile"   "user:1"           the tag: after the first '{', up to the first '}'
//   "a{}{b}"             "a{}{b}"           the first '{' is followed at once by '}': empty tag
//   "{{a}}"              "{a"               the first '}' after the first '{' ends the tag
//   "{a"  / "a}"         the whole key      no '}' after the first '{'
#pragma once

#include <cstdint>
#include <string_view>

namespace kw::cluster {

inline constexpr uint16_t kSlotCount = 16384;

// CRC16, CCITT polynomial 0x1021, initial value 0, no reflection (XMODEM): Redis's crc16.c.
uint16_t crc16(std::string_view bytes);

// The part of `key` that is hashed (the hash tag when there is a non-empty one).
std::string_view hashTag(std::string_view key);

uint16_t keySlot(std::string_view key);

}  // namespace kw::cluster

#include "cluster/key_slot.h"

#include <array>

namespace kw::cluster {
namespace {

constexpr std::array<uint16_t, 256> makeTable() {
  std::array<uint16_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte << 8;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) : (crc << 1);
    table[byte] = static_cast<uint16_t>(crc);
  }
  return table;
}

constexpr std::array<uint16_t, 256> kTable = makeTable();

}  // namespace

uint16_t crc16(std::string_view bytes) {
  uint16_t crc = 0;
  for (const char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    crc = static_cast<uint16_t>((crc << 8) ^ kTable[((crc >> 8) ^ b) & 0xff]);
  }
  return crc;
}

std::string_view hashTag(std::string_view key) {
  const size_t open = key.find('{');
  if (open == std::string_view::npos)
    return key;
  const size_t close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1)
    return key;
  return key.substr(open + 1, close - open - 1);
}

uint16_t keySlot(std::string_view key) {
  // 16384 is a power of two: Redis masks with 0x3FFF.
  return static_cast<uint16_t>(crc16(hashTag(key)) & (kSlotCount - 1));
}

}  // namespace kw::cluster

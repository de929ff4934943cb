#include "cluster/scan_cursor.h"

#include <charconv>

namespace kw::cluster {
namespace {

constexpr unsigned kCheckBits = 12;

uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (const char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

ScanCursorCodec::ScanCursorCodec(std::vector<std::string> master_ids)
    : ids_(std::move(master_ids)) {
  while (index_bits_ < 16 && (size_t{1} << index_bits_) < ids_.size())
    ++index_bits_;
}

ScanCursorCodec ScanCursorCodec::forMap(const SlotMap& map) {
  std::vector<std::string> ids;
  ids.reserve(map.masters().size());
  for (const uint16_t m : map.masters())
    ids.push_back(map.node(m).id);
  return ScanCursorCodec(std::move(ids));
}

uint32_t ScanCursorCodec::check(uint16_t master) const {
  const std::string head = std::to_string(ids_.size()) + "/" + std::to_string(master) + "/";
  const uint64_t h = fnv1a(fnv1a(14695981039346656037ull, head), ids_[master]);
  return static_cast<uint32_t>((h ^ (h >> 32)) & ((1u << kCheckBits) - 1));
}

std::optional<ScanPosition> ScanCursorCodec::decode(std::string_view cursor) const {
  if (ids_.empty() || cursor.empty())
    return std::nullopt;
  uint64_t v = 0;
  auto r = std::from_chars(cursor.data(), cursor.data() + cursor.size(), v);
  if (r.ec != std::errc() || r.ptr != cursor.data() + cursor.size() || cursor[0] == '+' ||
      cursor[0] == '-')
    return std::nullopt;
  if (v == 0)
    return ScanPosition{};
  const uint64_t index = v & ((uint64_t{1} << index_bits_) - 1);
  if (index >= ids_.size())
    return std::nullopt;
  const auto master = static_cast<uint16_t>(index);
  const uint64_t checked = (v >> index_bits_) & ((uint64_t{1} << kCheckBits) - 1);
  if (checked != check(master))
    return std::nullopt;
  ScanPosition pos{master, v >> (index_bits_ + kCheckBits)};
  // (0, 0) is the start and is only ever written "0".
  if (pos.master == 0 && pos.node_cursor == 0)
    return std::nullopt;
  return pos;
}

std::optional<std::string> ScanCursorCodec::next(uint16_t master, uint64_t node_next) const {
  if (master >= ids_.size())
    return std::nullopt;
  if (node_next == 0) {
    if (static_cast<size_t>(master) + 1 == ids_.size())
      return std::string("0");
    ++master;
  }
  const unsigned shift = index_bits_ + kCheckBits;
  if (node_next >> (64 - shift) != 0)
    return std::nullopt;
  const uint64_t v = (node_next << shift) | (uint64_t{check(master)} << index_bits_) | master;
  return std::to_string(v);
}

}  // namespace kw::cluster

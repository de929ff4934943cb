#include "policy/command_traits.h"

#include <vector>

#include "proxy/command_table.h"

#include <cstddef>
#include <limits>
#include <string>
#include <unordered_map>

namespace kw {
namespace {

struct Row {
  std::string_view name;
  CommandTraits traits;
};

constexpr KeyLayout kAll = KeyLayout::kAllKeys;
constexpr KeyLayout kD1 = KeyLayout::kDestArg1;
constexpr KeyLayout kD2 = KeyLayout::kDestArg2;

const Row kRows[] = {
    {"set", {kAll, TtlKind::kSet}},
    {"getset", {kAll, TtlKind::kGetset}},
    {"setex", {kAll, TtlKind::kSetex}},
    {"psetex", {kAll, TtlKind::kPsetex}},
    {"getex", {kAll, TtlKind::kGetex}},
    {"expire", {kAll, TtlKind::kExpire}},
    {"pexpire", {kAll, TtlKind::kPexpire}},
    {"expireat", {kAll, TtlKind::kExpireat}},
    {"pexpireat", {kAll, TtlKind::kPexpireat}},
    {"persist", {kAll, TtlKind::kPersist}},
    {"restore", {kAll, TtlKind::kRestore}},
    // Create args[1] when missing.
    {"setnx", {kAll, TtlKind::kCreatesArg1}},
    {"append", {kAll, TtlKind::kCreatesArg1}},
    {"setrange", {kAll, TtlKind::kCreatesArg1}},
    {"setbit", {kAll, TtlKind::kCreatesArg1}},
    {"incr", {kAll, TtlKind::kCreatesArg1}},
    {"incrby", {kAll, TtlKind::kCreatesArg1}},
    {"decr", {kAll, TtlKind::kCreatesArg1}},
    {"decrby", {kAll, TtlKind::kCreatesArg1}},
    {"incrbyfloat", {kAll, TtlKind::kCreatesArg1}},
    {"bitfield", {kAll, TtlKind::kCreatesArg1}},
    {"hset", {kAll, TtlKind::kCreatesArg1}},
    // Scripts may create any declared key.
    {"eval", {kAll, TtlKind::kScriptKeys}},
    {"evalsha", {kAll, TtlKind::kScriptKeys}},
    {"fcall", {kAll, TtlKind::kScriptKeys}},
    {"hsetnx", {kAll, TtlKind::kCreatesArg1}},
    {"hmset", {kAll, TtlKind::kCreatesArg1}},
    {"hincrby", {kAll, TtlKind::kCreatesArg1}},
    {"hincrbyfloat", {kAll, TtlKind::kCreatesArg1}},
    {"lpush", {kAll, TtlKind::kCreatesArg1}},
    {"rpush", {kAll, TtlKind::kCreatesArg1}},
    {"sadd", {kAll, TtlKind::kCreatesArg1}},
    {"zadd", {kAll, TtlKind::kCreatesArg1}},
    {"zincrby", {kAll, TtlKind::kCreatesArg1}},
    {"xadd", {kAll, TtlKind::kCreatesArg1}},
    {"pfadd", {kAll, TtlKind::kCreatesArg1}},
    {"geoadd", {kAll, TtlKind::kCreatesArg1}},
    // Store commands: args[1] is the destination, the other keys are read.
    {"sinterstore", {kD1, TtlKind::kCreatesArg1}},
    {"sunionstore", {kD1, TtlKind::kCreatesArg1}},
    {"sdiffstore", {kD1, TtlKind::kCreatesArg1}},
    {"zunionstore", {kD1, TtlKind::kCreatesArg1}},
    {"zinterstore", {kD1, TtlKind::kCreatesArg1}},
    {"zdiffstore", {kD1, TtlKind::kCreatesArg1}},
    {"zrangestore", {kD1, TtlKind::kCreatesArg1}},
    {"geosearchstore", {kD1, TtlKind::kCreatesArg1}},
    {"pfmerge", {kD1, TtlKind::kCreatesArg1}},
    // args[2] is the destination.
    {"bitop", {kD2, TtlKind::kCreatesArg2}},
    {"copy", {kD2, TtlKind::kCarriesTtl}},
    // Both keys are written (the source loses an element or disappears).
    {"smove", {kAll, TtlKind::kCreatesArg2}},
    {"lmove", {kAll, TtlKind::kCreatesArg2}},
    {"blmove", {kAll, TtlKind::kCreatesArg2}},
    {"rpoplpush", {kAll, TtlKind::kCreatesArg2}},
    {"brpoplpush", {kAll, TtlKind::kCreatesArg2}},
    {"rename", {kAll, TtlKind::kCarriesTtl}},
    {"renamenx", {kAll, TtlKind::kCarriesTtl}},
    {"mset", {kAll, TtlKind::kCreatesPairs}},
    {"msetnx", {kAll, TtlKind::kCreatesPairs}},
    {"sort", {KeyLayout::kSortStore, TtlKind::kSortStore}},
    {"xgroup", {kAll, TtlKind::kXgroup}},
};

const std::unordered_map<std::string_view, CommandTraits>& traitsMap() {
  static const auto* map = [] {
    auto* m = new std::unordered_map<std::string_view, CommandTraits>();
    for (const Row& row : kRows)
      m->emplace(row.name, row.traits);
    return m;
  }();
  return *map;
}

}  // namespace

CommandTraits commandTraits(std::string_view lower_name) {
  const auto& map = traitsMap();
  auto it = map.find(lower_name);
  return it == map.end() ? CommandTraits{} : it->second;
}

CommandTraits commandTraitsFor(const CommandInfo& cmd) {
  static const std::vector<CommandTraits> by_row = [] {
    const CommandTable& table = CommandTable::builtin();
    std::vector<CommandTraits> rows(table.size());
    for (size_t i = 0; i < table.size(); ++i)
      rows[i] = commandTraits(table.row(i).name);
    return rows;
  }();
  // Built-in rows come first in every table, so their index is the same in learned tables.
  return cmd.row < by_row.size() && CommandTable::builtin().row(cmd.row).name == cmd.name
             ? by_row[cmd.row]
             : commandTraits(cmd.name);
}

bool parseRedisInt(std::string_view s, int64_t* out) {
  // Redis refuses 21 bytes or more outright (LONG_STR_SIZE).
  if (s.empty() || s.size() >= 21)
    return false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative && ++i == s.size())
    return false;
  if (s[i] < '1' || s[i] > '9')
    return false;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    const auto digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10)
      return false;
    v = v * 10 + digit;
  }
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  if (negative) {
    if (v > kMax + 1)
      return false;
    *out = v == kMax + 1 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
  } else {
    if (v > kMax)
      return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

bool equalsLower(std::string_view arg, std::string_view lower) {
  if (arg.size() != lower.size())
    return false;
  for (size_t i = 0; i < arg.size(); ++i) {
    char c = arg[i];
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i])
      return false;
  }
  return true;
}

bool optionIs(std::string_view arg, std::string_view lower) {
  const size_t nul = arg.find('\0');
  return equalsLower(nul == std::string_view::npos ? arg : arg.substr(0, nul), lower);
}

SortOptions parseSortOptions(std::span<const std::string_view> args) {
  SortOptions out;
  const size_t n = args.size();
  for (size_t j = 2; j < n; ++j) {
    const std::string_view a = args[j];
    const size_t left = n - j - 1;
    if (optionIs(a, "asc") || optionIs(a, "desc") || optionIs(a, "alpha"))
      continue;
    if (optionIs(a, "limit") && left >= 2) {
      j += 2;
    } else if (optionIs(a, "store") && left >= 1) {
      out.last_store = static_cast<int>(++j);
    } else if (optionIs(a, "by") && left >= 1) {
      if (args[++j].find('*') != std::string_view::npos)
        out.by_pattern = true;
    } else if (optionIs(a, "get") && left >= 1) {
      if (args[++j] != "#")
        out.get_pattern = true;
    } else {
      out.valid = false;
      return out;
    }
  }
  return out;
}

}  // namespace kw

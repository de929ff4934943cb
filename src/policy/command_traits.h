// What the policy stages need to know about a command beyond the command table: which of its
// keys are only read (the sources of a *STORE command), and how it can create keys or set TTLs.
// Looked up by the command's lower-case name.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace kw {

// Which key arguments a write command writes. The command table gives key positions; a layout
// other than kAllKeys says that only the destination is written and the other keys are read.
enum class KeyLayout : uint8_t {
  kAllKeys,    // every key gets the command's own access (read, write, or both)
  kDestArg1,   // args[1] written, other keys read: SINTERSTORE dest k..., PFMERGE dest k...
  kDestArg2,   // args[2] written, other keys read: COPY src dest, BITOP op dest k...
  kSortStore,  // SORT key ... [STORE dest]: key read, each STORE destination written
};

// How a command interacts with key expiry; see ttl_policy.cc for what each kind does.
enum class TtlKind : uint8_t {
  kNone,
  kSet,           // SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT t|KEEPTTL]
  kGetset,        // GETSET key value
  kSetex,         // SETEX key seconds value
  kPsetex,        // PSETEX key milliseconds value
  kGetex,         // GETEX key [EX|PX|EXAT|PXAT t|PERSIST]
  kExpire,        // EXPIRE key seconds [flag]
  kPexpire,       // PEXPIRE key ms [flag]
  kExpireat,      // EXPIREAT key unix-seconds [flag]
  kPexpireat,     // PEXPIREAT key unix-ms [flag]
  kPersist,       // PERSIST key
  kRestore,       // RESTORE key ttl value [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]
  kCreatesArg1,   // may create args[1] without a TTL
  kCreatesArg2,   // may create args[2] without a TTL
  kCarriesTtl,    // RENAME/RENAMENX/COPY: args[2] gets the source's TTL (or none)
  kCreatesPairs,  // MSET/MSETNX: keys at 1, 3, 5...
  kSortStore,     // SORT ... STORE dest
  kXgroup,        // XGROUP CREATE key group id MKSTREAM
  kScriptKeys,    // EVAL/EVALSHA/FCALL script numkeys key...: the declared keys
};

struct CommandTraits {
  KeyLayout layout = KeyLayout::kAllKeys;
  TtlKind ttl = TtlKind::kNone;
};

// Defaults (kAllKeys, kNone) for any command not listed.
CommandTraits commandTraits(std::string_view lower_name);

struct CommandInfo;
// The same, for a command-table row: built-in rows are looked up by index (no hashing on the
// request path), rows learned from the upstream by name.
CommandTraits commandTraitsFor(const CommandInfo& cmd);

// Redis's string2ll: optional '-', no '+', no leading zeros, no spaces, within int64.
bool parseRedisInt(std::string_view s, int64_t* out);

// ASCII case-insensitive comparison against an all lower-case literal.
bool equalsLower(std::string_view arg, std::string_view lower);

// As Redis compares option keywords (strcasecmp on the C string): the argument up to its first
// NUL byte, so "EX\0junk" is EX to Redis and must be to us, or a TTL could slip past the policy.
bool optionIs(std::string_view arg, std::string_view lower);

// SORT/SORT_RO options, parsed as Redis does (sort.c). valid is false on a syntax error Redis
// would report itself.
struct SortOptions {
  bool valid = true;
  bool by_pattern = false;   // BY with a '*' in it: reads arbitrary keys
  bool get_pattern = false;  // GET other than '#': reads arbitrary keys
  int last_store = -1;       // index of the last STORE destination argument, -1 if none
};
SortOptions parseSortOptions(std::span<const std::string_view> args);

}  // namespace kw

// The command table: one row per command the proxy knows by name, defined once in
// command_table.cc. Everything else (flags used for pinning, ACL categories, key positions)
// is derived from it. Commands not in the table pass through with key positions learned from the
// upstream's COMMAND reply (see CommandTable::learnFromUpstream).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct redisReply;

namespace kw {

// Commands the proxy treats specially; everything else is kOther.
enum class CmdId : uint8_t {
  kOther,
  kPing,
  kEcho,
  kQuit,
  kReset,
  kHello,
  kAuth,
  kClient,
  kSelect,
  kMulti,
  kExec,
  kDiscard,
  kWatch,
  kUnwatch,
  kSubscribe,
  kMonitor,
  kReadonly,
  kReadwrite,
  kXread,
  kXreadgroup,
  kInfo,
  kCommand,
  kKeys,
  kScan,
  kSwapdb,
  kMove,
  kCopy,
  kSlowlog,
  kKeywarden,
  kUnsubscribe,  // UNSUBSCRIBE / PUNSUBSCRIBE / SUNSUBSCRIBE
  kSync,         // SYNC / PSYNC
  kReplconf,
  kScript,
  kFunction,
  kShutdown,
  kClThrottle,
  kConfig,
};

enum CmdFlag : uint32_t {
  kRead = 1u << 0,
  kWrite = 1u << 1,
  kAdmin = 1u << 2,
  kDangerous = 1u << 3,
  kPubsub = 1u << 4,
  kBlocking = 1u << 5,  // always blocks: needs a pinned connection for its duration
  kTransaction = 1u << 6,
  kScripting = 1u << 7,
  kKeyspace = 1u << 8,
  kConnection = 1u << 9,  // connection state: answered or emulated by the proxy
  kEntersPubsub = 1u << 10,
  kNoKeys = 1u << 11,
};

// How key arguments are found. kRange: first..last step (last < 0 counts from the end).
// kNumkeys: argument `first` holds the number of keys, which follow it (EVAL, ZUNION...);
// `last` > 0 means an extra key at that fixed index (ZUNIONSTORE's destination).
// kStreams: the keys follow the STREAMS keyword, half of the remaining arguments.
enum class KeySpec : uint8_t { kNone, kRange, kNumkeys, kStreams };

struct CommandInfo {
  std::string_view name;  // lower case
  int arity;              // Redis convention: negative = at least -arity
  uint32_t flags;
  KeySpec keys;
  int first;
  int last;
  int step;
  CmdId id;
  uint16_t row = 0;  // index in its table; learned tables keep the built-in rows first, in order
};

class CommandTable {
public:
  // The compiled-in table.
  static const CommandTable& builtin();

  // Case-insensitive, no allocation. nullptr when unknown.
  const CommandInfo* find(std::string_view name) const;

  // A new table: the built-in rows, plus rows for commands the upstream knows and we do not,
  // parsed from the upstream's reply to COMMAND (key positions and flags from the upstream).
  static std::shared_ptr<const CommandTable> learnFromUpstream(const redisReply* command_reply);

  size_t size() const { return rows_.size(); }
  const CommandInfo& row(size_t i) const { return rows_[i]; }
  // Row index of `cmd` (a row of this table); kUnknownIndex for nullptr.
  static constexpr uint16_t kUnknownIndex = 0xffff;
  uint16_t indexOf(const CommandInfo* cmd) const {
    if (!cmd || rows_.empty() || cmd < &rows_.front() || cmd > &rows_.back())
      return kUnknownIndex;
    return static_cast<uint16_t>(cmd - &rows_.front());
  }

  // Appends the indexes of key arguments of `args` (argv[0] is the command name).
  static void keyPositions(const CommandInfo& cmd, size_t argc, const std::string_view* args,
                           std::vector<int>* out);

private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::vector<CommandInfo> rows_;
  std::vector<std::unique_ptr<std::string>> learned_names_;
  std::unordered_map<std::string_view, size_t, Hash, std::equal_to<>> index_;

  void build();
};

}  // namespace kw

// TTL policy: what the proxy does to each command, for keys of namespaces with TTL rules
// (default_ttl_s, max_ttl_s, ttl_required). Keys of other namespaces, keys in no namespace and
// commands not listed here pass untouched. Arguments are parsed exactly as Redis 7 parses them
// (option keywords case-insensitive and compared up to a NUL byte as Redis's strcasecmp does,
// integers by string2ll); a command Redis would reject (wrong arity, syntax error, invalid or
// non-positive expire time, overflow) passes unchanged so Redis answers its own error.
//
// Adding the default TTL (namespaces with default_ttl_s > 0):
//   SET k v [NX|XX] [GET]            no EX/PX/EXAT/PXAT/KEEPTTL -> SET ... EX <default_ttl_s>
//   GETSET k v                       -> SET k v GET EX <default_ttl_s> (same reply, atomic)
//   RESTORE k 0 payload [...]        ttl 0 -> <default_ttl_s * 1000> (with ABSTTL: now + default)
//
// Capping explicit TTLs (namespaces with max_ttl_s > 0): a TTL above the maximum is lowered to it
// (over_max_ttl = "clamp") or the command is refused (over_max_ttl = "refuse") with
//   ERR TTL of <n> seconds for key '<k>' exceeds the maximum of <max> seconds for namespace '<ns>'
// Absolute times count from now: the TTL is the time minus now_ms, rounded up to seconds in the
// message; clamping writes now + max back in the command's own unit. Covered:
//   SET k v EX s | PX ms | EXAT unix-s | PXAT unix-ms      (the last EX/PX/... given, as Redis)
//   GETEX k EX s | PX ms | EXAT unix-s | PXAT unix-ms
//   SETEX k s v, PSETEX k ms v
//   EXPIRE k s, PEXPIRE k ms, EXPIREAT k unix-s, PEXPIREAT k unix-ms   [NX|XX|GT|LT kept]
//   RESTORE k ttl-ms payload [ABSTTL] ...
// Relative times <= 0 and absolute times in the past delete the key (or are errors): unchanged.
//
// Blacklist namespaces (kind = "blacklist"): a revocation must carry its token's expiry, and an
// expiry is never clamped (a clamped revocation makes a revoked token valid again):
//   SET without EX/PX/EXAT/PXAT (KEEPTTL included), GETSET, RESTORE with ttl 0, and every command
//   that can create a key without a TTL (the follow-up list below) -> ERR blacklist write refused
//   RENAME/COPY into a blacklist key from a key outside every blacklist namespace -> refused
//   an expiry over max_ttl_s -> refused (over_max_ttl is always "refuse" there)
//   PERSIST, GETEX PERSIST -> refused (ttl_required)
//   Scripts: keys they declare get no follow-up there (a script that writes a blacklist key
//   without an expiry escapes the proxy, as every undeclared key does).
//
// Refusing TTL removal (ttl_required namespaces):
//   PERSIST k, GETEX k PERSIST       -> ERR PERSIST refused: keys of namespace '<ns>' must have a
//   TTL
//
// Follow-ups (ttl_required namespaces): commands that can create a key without a TTL are sent
// unchanged, then "EXPIRE <key> <default_ttl_s> NX" is pipelined right after on the same
// connection (reply dropped): a no-op when the key already has a TTL or does not exist.
//   args[1]: SETNX APPEND SETRANGE SETBIT INCR INCRBY DECR DECRBY INCRBYFLOAT BITFIELD HSET HSETNX
//            HMSET HINCRBY HINCRBYFLOAT LPUSH RPUSH SADD ZADD ZINCRBY XADD PFADD GEOADD
//            SINTERSTORE SUNIONSTORE SDIFFSTORE ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZRANGESTORE
//            GEOSEARCHSTORE PFMERGE (destination)
//   args[2]: BITOP SMOVE LMOVE BLMOVE RPOPLPUSH BRPOPLPUSH (destination)
//   MSET, MSETNX: every key;  SORT ... STORE dest: dest;  XGROUP CREATE k g id MKSTREAM: k
//   SET ... KEEPTTL: the key (a new key would otherwise get none)
//   RENAME, RENAMENX, COPY (without DB): the destination, which takes the source's TTL or none;
//     when the destination's namespace has max_ttl_s, also "EXPIRE <dest> <max_ttl_s> LT"
//     (lowers a longer TTL carried over from the source; LT treats no TTL as infinite).
//   EVAL, EVALSHA, FCALL: every declared key (KEYS[]); a script that writes undeclared keys
//     escapes the proxy, which is why scripting is a category of its own.
// Not covered: undeclared keys a script touches, EVAL_RO/FCALL_RO, LINSERT/LPUSHX/RPUSHX (only
// ever touch existing keys), MOVE and COPY ... DB n (another database), and MULTI blocks are
// the caller's business (follow-ups of queued commands must be queued too).
#include "policy/ttl_policy.h"

#include <limits>

#include "policy/byte_repr.h"
#include "policy/command_traits.h"

namespace kw {
namespace {

constexpr size_t kMaxKeyShown = 128;
constexpr int64_t kLlongMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kLlongMin = std::numeric_limits<int64_t>::min();

enum class Unit : uint8_t { kSeconds, kMillis };

// The clock is the caller's; a nonsense one must not make arithmetic undefined.
int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (!__builtin_add_overflow(a, b, &sum))
    return sum;
  return b > 0 ? kLlongMax : kLlongMin;
}

struct Managed {
  uint32_t id = Resolution::kNone;
  const NamespaceConfig* ns = nullptr;  // null: no TTL rules apply to the key
};

class Stage {
public:
  Stage(const CompiledPolicy& policy, std::span<const std::string_view> args, int64_t now_ms,
        TtlScratch* out)
      : policy_(policy), args_(args), now_ms_(now_ms), out_(out) {}

  Managed managed(std::string_view key) const {
    const uint32_t ns = resolve(key);
    if (ns == Resolution::kNone || !policy_.hasTtlRules(ns))
      return {};
    return {ns, &policy_.ns(ns)};
  }

  // The access check's resolution of the same argument when there is one (matched by identity
  // of the view, so it is this command's own argument), else a fresh one.
  uint32_t resolve(std::string_view key) const {
    if (const PolicyScratch* hint = out_->resolved) {
      for (size_t j = 0; j < hint->positions.size() && j < hint->ns_ids.size(); ++j) {
        const size_t pos = static_cast<size_t>(hint->positions[j]);
        if (pos < args_.size() && args_[pos].data() == key.data() &&
            args_[pos].size() == key.size())
          return hint->ns_ids[j];
      }
    }
    return policy_.namespaces().resolve(key).ns;
  }

  // Ensures out_->args holds a copy of the command, to be edited.
  void beginRewrite() {
    if (!out_->args.empty())
      return;
    out_->args.reserve(args_.size() + 2);
    for (std::string_view a : args_)
      out_->args.emplace_back(a);
  }

  TtlDecision finish() const {
    return out_->args.empty() ? TtlDecision::kPass : TtlDecision::kRewrite;
  }

  void event(uint32_t ns, TtlAction action) { out_->events.push_back({ns, action}); }

  static bool isBlacklist(const Managed& m) {
    return m.ns != nullptr && m.ns->kind == NamespaceKind::kBlacklist;
  }

  // The refusal of a write that would leave a blacklist key without its token's expiry.
  TtlDecision refuseNoExpiry(const Managed& m, std::string_view command, std::string_view key) {
    std::string e = "ERR blacklist write refused: ";
    for (char c : command)
      e += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    e += " of key '";
    appendByteRepr(&e, key, kMaxKeyShown);
    e += "' in namespace '";
    appendByteRepr(&e, m.ns->name);
    e += "' sets no expiry; a revocation must carry its token's expiry (SET ... EX|PX|EXAT|PXAT, "
         "SETEX or PSETEX)";
    return refuse(m.id, TtlAction::kRefuseNoExpiry, std::move(e));
  }

  // A command that may create `key` without a TTL: in a blacklist namespace it is refused (the
  // first such key decides; `refused_` keeps the decision), elsewhere it gets its follow-up.
  void createsKey(std::string_view key) {
    if (refused_)
      return;
    const Managed m = managed(key);
    if (isBlacklist(m)) {
      refuseNoExpiry(m, args_[0], key);
      refused_ = true;
      return;
    }
    followupDefault(key);
  }
  bool refused() const { return refused_; }

  // "EXPIRE <key> <default> NX" when the key's namespace requires a TTL.
  void followupDefault(std::string_view key) {
    const Managed m = managed(key);
    // (A blacklist has no default: an EXPIRE 0 would delete the key.)
    if (m.ns == nullptr || !m.ns->ttl_required || m.ns->default_ttl_s == 0)
      return;
    const std::string ttl = std::to_string(m.ns->default_ttl_s);
    out_->followups.add() = {"EXPIRE", key, ttl, "NX"};
    event(m.id, TtlAction::kFollowup);
  }

  void followupCarried(std::string_view key) {
    followupDefault(key);
    const Managed m = managed(key);
    if (m.ns == nullptr || m.ns->max_ttl_s == 0)
      return;
    const std::string ttl = std::to_string(m.ns->max_ttl_s);
    out_->followups.add() = {"EXPIRE", key, ttl, "LT"};
    event(m.id, TtlAction::kFollowup);
  }

  TtlDecision refuse(uint32_t ns, TtlAction action, std::string message) {
    out_->args.clear();
    out_->followups.clear();
    out_->error = std::move(message);
    event(ns, action);
    return TtlDecision::kRefuse;
  }

  TtlDecision refusePersist(const Managed& m) {
    std::string e = "ERR PERSIST refused: keys of namespace '";
    appendByteRepr(&e, m.ns->name);
    e += "' must have a TTL";
    return refuse(m.id, TtlAction::kRefusePersist, std::move(e));
  }

  // Checks the (Redis-valid) expiry at args_[index] against the key's maximum: nothing, a clamp
  // written into out_->args, or a refusal. Returns false when refused.
  bool capExpiry(const Managed& m, std::string_view key, size_t index, int64_t value, Unit unit,
                 bool absolute, TtlDecision* refused) {
    if (m.ns == nullptr || m.ns->max_ttl_s == 0)
      return true;
    const int64_t max_ms = static_cast<int64_t>(m.ns->max_ttl_s) * 1000;
    // Redis-valid inputs keep these in range: seconds are <= LLONG_MAX / 1000 in magnitude.
    const int64_t value_ms = unit == Unit::kSeconds ? value * 1000 : value;
    int64_t ttl_ms = value_ms;
    if (absolute) {
      if (__builtin_sub_overflow(value_ms, now_ms_, &ttl_ms))
        ttl_ms = value_ms < 0 ? -1 : kLlongMax;
    }
    if (ttl_ms <= max_ms)
      return true;
    if (m.ns->over_max_ttl == OverMaxTtl::kRefuse) {
      const int64_t seconds = ttl_ms / 1000 + (ttl_ms % 1000 != 0);
      std::string e = "ERR TTL of " + std::to_string(seconds) + " seconds for key '";
      appendByteRepr(&e, key, kMaxKeyShown);
      e += "' exceeds the maximum of " + std::to_string(m.ns->max_ttl_s) +
           " seconds for namespace '";
      appendByteRepr(&e, m.ns->name);
      e += '\'';
      *refused = refuse(m.id, TtlAction::kRefuseMax, std::move(e));
      return false;
    }
    int64_t clamped;
    if (absolute) {
      const int64_t at_ms = saturatingAdd(now_ms_, max_ms);
      // Rounded down, also for (nonsense) negative clocks, so the clamp never overshoots.
      clamped = unit == Unit::kSeconds ? at_ms / 1000 - (at_ms % 1000 < 0) : at_ms;
    } else {
      clamped = unit == Unit::kSeconds ? static_cast<int64_t>(m.ns->max_ttl_s) : max_ms;
    }
    beginRewrite();
    out_->args[index] = std::to_string(clamped);
    event(m.id, TtlAction::kClamp);
    return true;
  }

  TtlDecision setFamily(bool is_set);
  TtlDecision setex(Unit unit);
  TtlDecision getset();
  TtlDecision expire(Unit unit, bool absolute);
  TtlDecision persist();
  TtlDecision restore();
  TtlDecision creates(TtlKind kind);

private:
  bool refused_ = false;
  const CompiledPolicy& policy_;
  std::span<const std::string_view> args_;
  int64_t now_ms_;
  TtlScratch* out_;
};

// Redis's getExpireMillisecondsOrReply: false when Redis would reply "invalid expire time".
bool validSetExpiry(std::string_view text, Unit unit, bool absolute, int64_t now_ms,
                    int64_t* value) {
  if (!parseRedisInt(text, value) || *value <= 0)
    return false;
  if (unit == Unit::kSeconds && *value > kLlongMax / 1000)
    return false;
  const int64_t ms = unit == Unit::kSeconds ? *value * 1000 : *value;
  int64_t at;
  return absolute || (!__builtin_add_overflow(ms, now_ms, &at) && at > 0);
}

// SET and GETEX options, as Redis's parseExtendedStringArgumentsOrReply.
enum : uint32_t {
  kNx = 1,
  kXx = 2,
  kGet = 4,
  kKeepTtl = 8,
  kPersist = 16,
  kEx = 32,
  kPx = 64,
  kExat = 128,
  kPxat = 256,
};

TtlDecision Stage::setFamily(bool is_set) {
  const size_t n = args_.size();
  const size_t first = is_set ? 3 : 2;
  if (n < first)
    return TtlDecision::kPass;
  uint32_t flags = 0;
  size_t expire_index = 0;
  for (size_t j = first; j < n; ++j) {
    const std::string_view opt = args_[j];
    const bool next = j + 1 < n;
    const uint32_t expiry = kEx | kPx | kExat | kPxat;
    auto timed = [&](uint32_t flag) {
      return !(flags & (kKeepTtl | kPersist | (expiry & ~flag))) && next;
    };
    if (is_set && optionIs(opt, "nx") && !(flags & kXx)) {
      flags |= kNx;
    } else if (is_set && optionIs(opt, "xx") && !(flags & kNx)) {
      flags |= kXx;
    } else if (is_set && optionIs(opt, "get")) {
      flags |= kGet;
    } else if (is_set && optionIs(opt, "keepttl") && !(flags & (kPersist | expiry))) {
      flags |= kKeepTtl;
    } else if (!is_set && optionIs(opt, "persist") && !(flags & (kKeepTtl | expiry))) {
      flags |= kPersist;
    } else if (optionIs(opt, "ex") && timed(kEx)) {
      flags |= kEx;
      expire_index = ++j;
    } else if (optionIs(opt, "px") && timed(kPx)) {
      flags |= kPx;
      expire_index = ++j;
    } else if (optionIs(opt, "exat") && timed(kExat)) {
      flags |= kExat;
      expire_index = ++j;
    } else if (optionIs(opt, "pxat") && timed(kPxat)) {
      flags |= kPxat;
      expire_index = ++j;
    } else {
      return TtlDecision::kPass;  // syntax error
    }
  }
  const std::string_view key = args_[1];
  const Managed m = managed(key);
  if (m.ns == nullptr)
    return TtlDecision::kPass;
  if (flags & kPersist) {
    return m.ns->ttl_required ? refusePersist(m) : TtlDecision::kPass;
  }
  if (isBlacklist(m) && is_set && (flags & kKeepTtl || expire_index == 0))
    return refuseNoExpiry(m, args_[0], key);
  if (flags & kKeepTtl) {
    followupDefault(key);
    return TtlDecision::kPass;
  }
  if (expire_index == 0) {
    if (!is_set || m.ns->default_ttl_s == 0)
      return TtlDecision::kPass;
    beginRewrite();
    out_->args.emplace_back("EX");
    out_->args.push_back(std::to_string(m.ns->default_ttl_s));
    event(m.id, TtlAction::kRewriteDefault);
    return TtlDecision::kRewrite;
  }
  const Unit unit = (flags & (kEx | kExat)) ? Unit::kSeconds : Unit::kMillis;
  const bool absolute = (flags & (kExat | kPxat)) != 0;
  int64_t value;
  if (!validSetExpiry(args_[expire_index], unit, absolute, now_ms_, &value)) {
    return TtlDecision::kPass;
  }
  TtlDecision refused;
  if (!capExpiry(m, key, expire_index, value, unit, absolute, &refused))
    return refused;
  return finish();
}

TtlDecision Stage::setex(Unit unit) {
  if (args_.size() != 4)
    return TtlDecision::kPass;
  const Managed m = managed(args_[1]);
  int64_t value;
  if (m.ns == nullptr || !validSetExpiry(args_[2], unit, false, now_ms_, &value)) {
    return TtlDecision::kPass;
  }
  TtlDecision refused;
  if (!capExpiry(m, args_[1], 2, value, unit, false, &refused))
    return refused;
  return finish();
}

TtlDecision Stage::getset() {
  if (args_.size() != 3)
    return TtlDecision::kPass;
  const Managed m = managed(args_[1]);
  if (isBlacklist(m))
    return refuseNoExpiry(m, args_[0], args_[1]);
  if (m.ns == nullptr || m.ns->default_ttl_s == 0)
    return TtlDecision::kPass;
  const std::string ttl = std::to_string(m.ns->default_ttl_s);
  out_->args = {"SET", args_[1], args_[2], "GET", "EX", ttl};
  event(m.id, TtlAction::kRewriteDefault);
  return TtlDecision::kRewrite;
}

TtlDecision Stage::expire(Unit unit, bool absolute) {
  const size_t n = args_.size();
  if (n < 3)
    return TtlDecision::kPass;
  // Redis's parseExtendedExpireArgumentsOrReply.
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t j = 3; j < n; ++j) {
    if (optionIs(args_[j], "nx"))
      nx = true;
    else if (optionIs(args_[j], "xx"))
      xx = true;
    else if (optionIs(args_[j], "gt"))
      gt = true;
    else if (optionIs(args_[j], "lt"))
      lt = true;
    else
      return TtlDecision::kPass;
  }
  if ((nx && (xx || gt || lt)) || (gt && lt))
    return TtlDecision::kPass;
  const Managed m = managed(args_[1]);
  int64_t value;
  if (m.ns == nullptr || !parseRedisInt(args_[2], &value))
    return TtlDecision::kPass;
  if (unit == Unit::kSeconds && (value > kLlongMax / 1000 || value < kLlongMin / 1000)) {
    return TtlDecision::kPass;
  }
  const int64_t ms = unit == Unit::kSeconds ? value * 1000 : value;
  int64_t at;
  if (!absolute && __builtin_add_overflow(ms, now_ms_, &at))
    return TtlDecision::kPass;
  if (!absolute && value <= 0)
    return TtlDecision::kPass;  // deletes the key
  TtlDecision refused;
  if (!capExpiry(m, args_[1], 2, value, unit, absolute, &refused))
    return refused;
  return finish();
}

TtlDecision Stage::persist() {
  if (args_.size() != 2)
    return TtlDecision::kPass;
  const Managed m = managed(args_[1]);
  if (m.ns == nullptr || !m.ns->ttl_required)
    return TtlDecision::kPass;
  return refusePersist(m);
}

TtlDecision Stage::restore() {
  const size_t n = args_.size();
  if (n < 4)
    return TtlDecision::kPass;
  bool absttl = false, idle = false, freq = false;
  for (size_t j = 4; j < n; ++j) {
    const bool more = j + 1 < n;
    if (optionIs(args_[j], "replace")) {
    } else if (optionIs(args_[j], "absttl")) {
      absttl = true;
    } else if (optionIs(args_[j], "idletime") && more && !freq) {
      idle = true;
      ++j;
    } else if (optionIs(args_[j], "freq") && more && !idle) {
      freq = true;
      ++j;
    } else {
      return TtlDecision::kPass;
    }
  }
  const Managed m = managed(args_[1]);
  int64_t ttl;
  if (m.ns == nullptr || !parseRedisInt(args_[2], &ttl) || ttl < 0)
    return TtlDecision::kPass;
  if (ttl == 0) {
    if (isBlacklist(m))
      return refuseNoExpiry(m, args_[0], args_[1]);
    if (m.ns->default_ttl_s == 0)
      return TtlDecision::kPass;
    const int64_t ms = static_cast<int64_t>(m.ns->default_ttl_s) * 1000;
    beginRewrite();
    out_->args[2] = std::to_string(absttl ? saturatingAdd(now_ms_, ms) : ms);
    event(m.id, TtlAction::kRewriteDefault);
    return TtlDecision::kRewrite;
  }
  TtlDecision refused;
  if (!capExpiry(m, args_[1], 2, ttl, Unit::kMillis, absttl, &refused))
    return refused;
  return finish();
}

TtlDecision Stage::creates(TtlKind kind) {
  const size_t n = args_.size();
  switch (kind) {
  case TtlKind::kCreatesArg1:
    if (n >= 2)
      createsKey(args_[1]);
    break;
  case TtlKind::kCreatesArg2:
    if (n >= 3)
      createsKey(args_[2]);
    break;
  case TtlKind::kCarriesTtl: {
    if (n < 3)
      break;
    // COPY src dst DB n targets another database, which a follow-up here cannot reach.
    for (size_t j = 3; j < n; ++j) {
      if (optionIs(args_[j], "db"))
        return TtlDecision::kPass;
    }
    // The destination takes the source's TTL: into a blacklist only from a blacklist key (which
    // always has one).
    if (const Managed dst = managed(args_[2]); isBlacklist(dst) && !isBlacklist(managed(args_[1])))
      return refuseNoExpiry(dst, args_[0], args_[2]);
    followupCarried(args_[2]);
    break;
  }
  case TtlKind::kCreatesPairs:
    if (n % 2 == 0)
      break;  // Redis: wrong number of arguments
    for (size_t j = 1; j < n; j += 2)
      createsKey(args_[j]);
    break;
  case TtlKind::kSortStore: {
    const SortOptions sort = parseSortOptions(args_);
    if (sort.valid && sort.last_store > 0)
      createsKey(args_[sort.last_store]);
    break;
  }
  case TtlKind::kScriptKeys: {
    int64_t numkeys = 0;
    if (n < 3 || !parseRedisInt(args_[2], &numkeys) || numkeys < 0 ||
        numkeys > static_cast<int64_t>(n - 3))
      break;  // Redis answers its own error
    for (size_t j = 0; j < static_cast<size_t>(numkeys); ++j)
      followupDefault(args_[3 + j]);  // (declared keys may only be read: no blacklist refusal)
    break;
  }
  case TtlKind::kXgroup: {
    if (n < 5 || !optionIs(args_[1], "create"))
      break;
    for (size_t j = 5; j < n; ++j) {
      if (optionIs(args_[j], "mkstream")) {
        createsKey(args_[2]);
        break;
      }
    }
    break;
  }
  default:
    break;
  }
  return refused_ ? TtlDecision::kRefuse : TtlDecision::kPass;
}

bool arityOk(const CommandInfo& cmd, size_t argc) {
  const auto n = static_cast<int64_t>(argc);
  return cmd.arity >= 0 ? n == cmd.arity : n >= -static_cast<int64_t>(cmd.arity);
}

}  // namespace

TtlDecision applyTtlPolicy(const CompiledPolicy& policy, const CommandInfo& cmd,
                           std::span<const std::string_view> args, int64_t now_ms,
                           TtlScratch* scratch) {
  scratch->args.clear();
  scratch->followups.clear();  // (resolved is the caller's, kept)
  scratch->events.clear();
  scratch->error.clear();
  if (!policy.anyTtlRules() || args.size() < 2 || !arityOk(cmd, args.size())) {
    return TtlDecision::kPass;
  }
  const TtlKind kind = commandTraitsFor(cmd).ttl;
  Stage stage(policy, args, now_ms, scratch);
  switch (kind) {
  case TtlKind::kNone:
    return TtlDecision::kPass;
  case TtlKind::kSet:
    return stage.setFamily(true);
  case TtlKind::kGetex:
    return stage.setFamily(false);
  case TtlKind::kGetset:
    return stage.getset();
  case TtlKind::kSetex:
    return stage.setex(Unit::kSeconds);
  case TtlKind::kPsetex:
    return stage.setex(Unit::kMillis);
  case TtlKind::kExpire:
    return stage.expire(Unit::kSeconds, false);
  case TtlKind::kPexpire:
    return stage.expire(Unit::kMillis, false);
  case TtlKind::kExpireat:
    return stage.expire(Unit::kSeconds, true);
  case TtlKind::kPexpireat:
    return stage.expire(Unit::kMillis, true);
  case TtlKind::kPersist:
    return stage.persist();
  case TtlKind::kRestore:
    return stage.restore();
  default:
    return stage.creates(kind);
  }
}

}  // namespace kw

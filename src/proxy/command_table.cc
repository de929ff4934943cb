#include "proxy/command_table.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace kw {
namespace {

constexpr uint32_t R = kRead, W = kWrite, A = kAdmin, D = kDangerous, P = kPubsub, B = kBlocking,
                   T = kTransaction, S = kScripting, K = kKeyspace, C = kConnection,
                   E = kEntersPubsub, N = kNoKeys;
constexpr KeySpec kR = KeySpec::kRange, kN = KeySpec::kNumkeys, k0 = KeySpec::kNone,
                  kS = KeySpec::kStreams;
using I = CmdId;

// name, arity, flags, key spec, first, last, step, id. Arity and key positions follow Redis 7.2.
const CommandInfo kRows[] = {
    // connection
    {"ping", -1, C | N, k0, 0, 0, 0, I::kPing},
    {"echo", 2, C | N, k0, 0, 0, 0, I::kEcho},
    {"quit", -1, C | N, k0, 0, 0, 0, I::kQuit},
    {"reset", 1, C | N, k0, 0, 0, 0, I::kReset},
    {"hello", -1, C | N, k0, 0, 0, 0, I::kHello},
    {"auth", -2, C | N, k0, 0, 0, 0, I::kAuth},
    {"client", -2, C | N, k0, 0, 0, 0, I::kClient},
    {"select", 2, C | N, k0, 0, 0, 0, I::kSelect},
    {"readonly", 1, C | N, k0, 0, 0, 0, I::kReadonly},
    {"readwrite", 1, C | N, k0, 0, 0, 0, I::kReadwrite},
    // transactions
    {"multi", 1, T | N, k0, 0, 0, 0, I::kMulti},
    {"exec", 1, T | N, k0, 0, 0, 0, I::kExec},
    {"discard", 1, T | N, k0, 0, 0, 0, I::kDiscard},
    {"watch", -2, T, kR, 1, -1, 1, I::kWatch},
    {"unwatch", 1, T | N, k0, 0, 0, 0, I::kUnwatch},
    // strings
    {"get", 2, R, kR, 1, 1, 1, I::kOther},
    {"set", -3, W, kR, 1, 1, 1, I::kOther},
    {"setnx", 3, W, kR, 1, 1, 1, I::kOther},
    {"setex", 4, W, kR, 1, 1, 1, I::kOther},
    {"psetex", 4, W, kR, 1, 1, 1, I::kOther},
    {"getex", -2, W, kR, 1, 1, 1, I::kOther},
    {"getdel", 2, W, kR, 1, 1, 1, I::kOther},
    {"getset", 3, W, kR, 1, 1, 1, I::kOther},
    {"mget", -2, R, kR, 1, -1, 1, I::kOther},
    {"mset", -3, W, kR, 1, -1, 2, I::kOther},
    {"msetnx", -3, W, kR, 1, -1, 2, I::kOther},
    {"append", 3, W, kR, 1, 1, 1, I::kOther},
    {"strlen", 2, R, kR, 1, 1, 1, I::kOther},
    {"incr", 2, W, kR, 1, 1, 1, I::kOther},
    {"decr", 2, W, kR, 1, 1, 1, I::kOther},
    {"incrby", 3, W, kR, 1, 1, 1, I::kOther},
    {"decrby", 3, W, kR, 1, 1, 1, I::kOther},
    {"incrbyfloat", 3, W, kR, 1, 1, 1, I::kOther},
    {"getrange", 4, R, kR, 1, 1, 1, I::kOther},
    {"setrange", 4, W, kR, 1, 1, 1, I::kOther},
    {"getbit", 3, R, kR, 1, 1, 1, I::kOther},
    {"setbit", 4, W, kR, 1, 1, 1, I::kOther},
    {"bitcount", -2, R, kR, 1, 1, 1, I::kOther},
    {"bitpos", -3, R, kR, 1, 1, 1, I::kOther},
    {"bitop", -4, W, kR, 2, -1, 1, I::kOther},
    {"bitfield", -2, W, kR, 1, 1, 1, I::kOther},
    {"bitfield_ro", -2, R, kR, 1, 1, 1, I::kOther},
    {"lcs", -3, R, kR, 1, 2, 1, I::kOther},
    // keyspace
    {"del", -2, W | K, kR, 1, -1, 1, I::kOther},
    {"unlink", -2, W | K, kR, 1, -1, 1, I::kOther},
    {"exists", -2, R | K, kR, 1, -1, 1, I::kOther},
    {"type", 2, R | K, kR, 1, 1, 1, I::kOther},
    {"expire", -3, W | K, kR, 1, 1, 1, I::kOther},
    {"pexpire", -3, W | K, kR, 1, 1, 1, I::kOther},
    {"expireat", -3, W | K, kR, 1, 1, 1, I::kOther},
    {"pexpireat", -3, W | K, kR, 1, 1, 1, I::kOther},
    {"expiretime", 2, R | K, kR, 1, 1, 1, I::kOther},
    {"pexpiretime", 2, R | K, kR, 1, 1, 1, I::kOther},
    {"persist", 2, W | K, kR, 1, 1, 1, I::kOther},
    {"ttl", 2, R | K, kR, 1, 1, 1, I::kOther},
    {"pttl", 2, R | K, kR, 1, 1, 1, I::kOther},
    {"touch", -2, R | K, kR, 1, -1, 1, I::kOther},
    {"rename", 3, W | K, kR, 1, 2, 1, I::kOther},
    {"renamenx", 3, W | K, kR, 1, 2, 1, I::kOther},
    {"copy", -3, W | K, kR, 1, 2, 1, I::kCopy},
    {"move", 3, W | K, kR, 1, 1, 1, I::kMove},
    {"dump", 2, R | K, kR, 1, 1, 1, I::kOther},
    {"restore", -4, W | K | D, kR, 1, 1, 1, I::kOther},
    {"object", -2, R | K, kR, 2, 2, 1, I::kOther},
    {"sort", -2, W | K, kR, 1, 1, 1, I::kOther},
    {"sort_ro", -2, R | K, kR, 1, 1, 1, I::kOther},
    {"scan", -2, R | K | N, k0, 0, 0, 0, I::kScan},
    {"keys", 2, R | K | D | N, k0, 0, 0, 0, I::kKeys},
    {"randomkey", 1, R | K | N, k0, 0, 0, 0, I::kOther},
    {"dbsize", 1, R | K | N, k0, 0, 0, 0, I::kOther},
    {"swapdb", 3, W | K | D | N, k0, 0, 0, 0, I::kSwapdb},
    {"wait", 3, B | N, k0, 0, 0, 0, I::kOther},
    {"waitaof", 4, B | N, k0, 0, 0, 0, I::kOther},
    // hashes
    {"hget", 3, R, kR, 1, 1, 1, I::kOther},
    {"hset", -4, W, kR, 1, 1, 1, I::kOther},
    {"hsetnx", 4, W, kR, 1, 1, 1, I::kOther},
    {"hmset", -4, W, kR, 1, 1, 1, I::kOther},
    {"hmget", -3, R, kR, 1, 1, 1, I::kOther},
    {"hdel", -3, W, kR, 1, 1, 1, I::kOther},
    {"hlen", 2, R, kR, 1, 1, 1, I::kOther},
    {"hstrlen", 3, R, kR, 1, 1, 1, I::kOther},
    {"hexists", 3, R, kR, 1, 1, 1, I::kOther},
    {"hgetall", 2, R, kR, 1, 1, 1, I::kOther},
    {"hkeys", 2, R, kR, 1, 1, 1, I::kOther},
    {"hvals", 2, R, kR, 1, 1, 1, I::kOther},
    {"hincrby", 4, W, kR, 1, 1, 1, I::kOther},
    {"hincrbyfloat", 4, W, kR, 1, 1, 1, I::kOther},
    {"hrandfield", -2, R, kR, 1, 1, 1, I::kOther},
    {"hscan", -3, R, kR, 1, 1, 1, I::kOther},
    // lists
    {"lpush", -3, W, kR, 1, 1, 1, I::kOther},
    {"rpush", -3, W, kR, 1, 1, 1, I::kOther},
    {"lpushx", -3, W, kR, 1, 1, 1, I::kOther},
    {"rpushx", -3, W, kR, 1, 1, 1, I::kOther},
    {"lpop", -2, W, kR, 1, 1, 1, I::kOther},
    {"rpop", -2, W, kR, 1, 1, 1, I::kOther},
    {"llen", 2, R, kR, 1, 1, 1, I::kOther},
    {"lrange", 4, R, kR, 1, 1, 1, I::kOther},
    {"lindex", 3, R, kR, 1, 1, 1, I::kOther},
    {"lset", 4, W, kR, 1, 1, 1, I::kOther},
    {"lrem", 4, W, kR, 1, 1, 1, I::kOther},
    {"ltrim", 4, W, kR, 1, 1, 1, I::kOther},
    {"linsert", 5, W, kR, 1, 1, 1, I::kOther},
    {"lpos", -3, R, kR, 1, 1, 1, I::kOther},
    {"lmove", 5, W, kR, 1, 2, 1, I::kOther},
    {"rpoplpush", 3, W, kR, 1, 2, 1, I::kOther},
    {"lmpop", -4, W, kN, 1, 0, 1, I::kOther},
    {"blpop", -3, W | B, kR, 1, -2, 1, I::kOther},
    {"brpop", -3, W | B, kR, 1, -2, 1, I::kOther},
    {"blmove", 6, W | B, kR, 1, 2, 1, I::kOther},
    {"brpoplpush", 4, W | B, kR, 1, 2, 1, I::kOther},
    {"blmpop", -5, W | B, kN, 2, 0, 1, I::kOther},
    // sets
    {"sadd", -3, W, kR, 1, 1, 1, I::kOther},
    {"srem", -3, W, kR, 1, 1, 1, I::kOther},
    {"smembers", 2, R, kR, 1, 1, 1, I::kOther},
    {"sismember", 3, R, kR, 1, 1, 1, I::kOther},
    {"smismember", -3, R, kR, 1, 1, 1, I::kOther},
    {"scard", 2, R, kR, 1, 1, 1, I::kOther},
    {"spop", -2, W, kR, 1, 1, 1, I::kOther},
    {"srandmember", -2, R, kR, 1, 1, 1, I::kOther},
    {"smove", 4, W, kR, 1, 2, 1, I::kOther},
    {"sinter", -2, R, kR, 1, -1, 1, I::kOther},
    {"sunion", -2, R, kR, 1, -1, 1, I::kOther},
    {"sdiff", -2, R, kR, 1, -1, 1, I::kOther},
    {"sinterstore", -3, W, kR, 1, -1, 1, I::kOther},
    {"sunionstore", -3, W, kR, 1, -1, 1, I::kOther},
    {"sdiffstore", -3, W, kR, 1, -1, 1, I::kOther},
    {"sintercard", -3, R, kN, 1, 0, 1, I::kOther},
    {"sscan", -3, R, kR, 1, 1, 1, I::kOther},
    // sorted sets
    {"zadd", -4, W, kR, 1, 1, 1, I::kOther},
    {"zincrby", 4, W, kR, 1, 1, 1, I::kOther},
    {"zrem", -3, W, kR, 1, 1, 1, I::kOther},
    {"zcard", 2, R, kR, 1, 1, 1, I::kOther},
    {"zcount", 4, R, kR, 1, 1, 1, I::kOther},
    {"zlexcount", 4, R, kR, 1, 1, 1, I::kOther},
    {"zscore", 3, R, kR, 1, 1, 1, I::kOther},
    {"zmscore", -3, R, kR, 1, 1, 1, I::kOther},
    {"zrank", -3, R, kR, 1, 1, 1, I::kOther},
    {"zrevrank", -3, R, kR, 1, 1, 1, I::kOther},
    {"zrange", -4, R, kR, 1, 1, 1, I::kOther},
    {"zrangestore", -5, W, kR, 1, 2, 1, I::kOther},
    {"zrevrange", -4, R, kR, 1, 1, 1, I::kOther},
    {"zrangebyscore", -4, R, kR, 1, 1, 1, I::kOther},
    {"zrevrangebyscore", -4, R, kR, 1, 1, 1, I::kOther},
    {"zrangebylex", -4, R, kR, 1, 1, 1, I::kOther},
    {"zrevrangebylex", -4, R, kR, 1, 1, 1, I::kOther},
    {"zremrangebyscore", 4, W, kR, 1, 1, 1, I::kOther},
    {"zremrangebyrank", 4, W, kR, 1, 1, 1, I::kOther},
    {"zremrangebylex", 4, W, kR, 1, 1, 1, I::kOther},
    {"zpopmin", -2, W, kR, 1, 1, 1, I::kOther},
    {"zpopmax", -2, W, kR, 1, 1, 1, I::kOther},
    {"zrandmember", -2, R, kR, 1, 1, 1, I::kOther},
    {"zunion", -3, R, kN, 1, 0, 1, I::kOther},
    {"zinter", -3, R, kN, 1, 0, 1, I::kOther},
    {"zdiff", -3, R, kN, 1, 0, 1, I::kOther},
    {"zunionstore", -4, W, kN, 2, 1, 1, I::kOther},
    {"zinterstore", -4, W, kN, 2, 1, 1, I::kOther},
    {"zdiffstore", -4, W, kN, 2, 1, 1, I::kOther},
    {"zintercard", -3, R, kN, 1, 0, 1, I::kOther},
    {"zmpop", -4, W, kN, 1, 0, 1, I::kOther},
    {"bzpopmin", -3, W | B, kR, 1, -2, 1, I::kOther},
    {"bzpopmax", -3, W | B, kR, 1, -2, 1, I::kOther},
    {"bzmpop", -5, W | B, kN, 2, 0, 1, I::kOther},
    {"zscan", -3, R, kR, 1, 1, 1, I::kOther},
    // streams
    {"xadd", -5, W, kR, 1, 1, 1, I::kOther},
    {"xlen", 2, R, kR, 1, 1, 1, I::kOther},
    {"xrange", -4, R, kR, 1, 1, 1, I::kOther},
    {"xrevrange", -4, R, kR, 1, 1, 1, I::kOther},
    {"xdel", -3, W, kR, 1, 1, 1, I::kOther},
    {"xtrim", -4, W, kR, 1, 1, 1, I::kOther},
    {"xread", -4, R, kS, 0, 0, 0, I::kXread},
    {"xreadgroup", -7, W, kS, 0, 0, 0, I::kXreadgroup},
    {"xgroup", -2, W, kR, 2, 2, 1, I::kOther},
    {"xack", -4, W, kR, 1, 1, 1, I::kOther},
    {"xpending", -3, R, kR, 1, 1, 1, I::kOther},
    {"xclaim", -6, W, kR, 1, 1, 1, I::kOther},
    {"xautoclaim", -6, W, kR, 1, 1, 1, I::kOther},
    {"xinfo", -2, R, kR, 2, 2, 1, I::kOther},
    {"xsetid", -3, W, kR, 1, 1, 1, I::kOther},
    // hyperloglog, geo
    {"pfadd", -2, W, kR, 1, 1, 1, I::kOther},
    {"pfcount", -2, R, kR, 1, -1, 1, I::kOther},
    {"pfmerge", -2, W, kR, 1, -1, 1, I::kOther},
    {"geoadd", -5, W, kR, 1, 1, 1, I::kOther},
    {"geodist", -4, R, kR, 1, 1, 1, I::kOther},
    {"geohash", -2, R, kR, 1, 1, 1, I::kOther},
    {"geopos", -2, R, kR, 1, 1, 1, I::kOther},
    {"geosearch", -7, R, kR, 1, 1, 1, I::kOther},
    {"geosearchstore", -8, W, kR, 1, 2, 1, I::kOther},
    // pub/sub
    {"subscribe", -2, P | E | N, k0, 0, 0, 0, I::kSubscribe},
    {"psubscribe", -2, P | E | N, k0, 0, 0, 0, I::kSubscribe},
    {"ssubscribe", -2, P | E | N, k0, 0, 0, 0, I::kSubscribe},
    {"unsubscribe", -1, P | N, k0, 0, 0, 0, I::kUnsubscribe},
    {"punsubscribe", -1, P | N, k0, 0, 0, 0, I::kUnsubscribe},
    {"sunsubscribe", -1, P | N, k0, 0, 0, 0, I::kUnsubscribe},
    {"publish", 3, P | N, k0, 0, 0, 0, I::kOther},
    {"spublish", 3, P | N, k0, 0, 0, 0, I::kOther},
    {"pubsub", -2, P | N, k0, 0, 0, 0, I::kOther},
    // scripting
    {"eval", -3, S, kN, 2, 0, 1, I::kOther},
    {"evalsha", -3, S, kN, 2, 0, 1, I::kOther},
    {"eval_ro", -3, S | R, kN, 2, 0, 1, I::kOther},
    {"evalsha_ro", -3, S | R, kN, 2, 0, 1, I::kOther},
    {"fcall", -3, S, kN, 2, 0, 1, I::kOther},
    {"fcall_ro", -3, S | R, kN, 2, 0, 1, I::kOther},
    {"script", -2, S | N, k0, 0, 0, 0, I::kScript},
    {"function", -2, S | N, k0, 0, 0, 0, I::kFunction},
    // rate limiting (redis-cell's command; arity is checked by it, with its own message)
    {"cl.throttle", -1, W, kR, 1, 1, 1, I::kClThrottle},
    // server / admin
    {"info", -1, N, k0, 0, 0, 0, I::kInfo},
    {"command", -1, C | N, k0, 0, 0, 0, I::kCommand},
    {"time", 1, N, k0, 0, 0, 0, I::kOther},
    {"lastsave", 1, N, k0, 0, 0, 0, I::kOther},
    {"lolwut", -1, R | N, k0, 0, 0, 0, I::kOther},
    {"memory", -2, R, kR, 2, 2, 1, I::kOther},  // MEMORY USAGE key
    {"latency", -2, A | N, k0, 0, 0, 0, I::kOther},
    {"slowlog", -2, A | N, k0, 0, 0, 0, I::kSlowlog},
    {"keywarden", -2, A | N, k0, 0, 0, 0, I::kKeywarden},
    {"monitor", 1, A | D | N, k0, 0, 0, 0, I::kMonitor},
    {"flushall", -1, W | K | D | N, k0, 0, 0, 0, I::kOther},
    {"flushdb", -1, W | K | D | N, k0, 0, 0, 0, I::kOther},
    {"config", -2, A | D | N, k0, 0, 0, 0, I::kConfig},
    {"debug", -2, A | D | N, k0, 0, 0, 0, I::kOther},
    {"shutdown", -1, A | D | N, k0, 0, 0, 0, I::kShutdown},
    {"save", 1, A | D | N, k0, 0, 0, 0, I::kOther},
    {"bgsave", -1, A | D | N, k0, 0, 0, 0, I::kOther},
    {"bgrewriteaof", 1, A | D | N, k0, 0, 0, 0, I::kOther},
    {"replicaof", 3, A | D | N, k0, 0, 0, 0, I::kOther},
    {"slaveof", 3, A | D | N, k0, 0, 0, 0, I::kOther},
    {"cluster", -2, A | D | N, k0, 0, 0, 0, I::kOther},
    {"module", -2, A | D | N, k0, 0, 0, 0, I::kOther},
    {"acl", -2, A | D | N, k0, 0, 0, 0, I::kOther},
    {"migrate", -6, W | K | D, kR, 3, 3, 1, I::kOther},
    {"failover", -1, A | D | N, k0, 0, 0, 0, I::kOther},
    {"sync", 1, A | D | N, k0, 0, 0, 0, I::kSync},
    {"psync", -3, A | D | N, k0, 0, 0, 0, I::kSync},
    {"replconf", -1, A | D | N, k0, 0, 0, 0, I::kReplconf},
};

}  // namespace

const CommandTable& CommandTable::builtin() {
  static const CommandTable* table = [] {
    auto* t = new CommandTable();
    t->rows_.assign(std::begin(kRows), std::end(kRows));
    t->build();
    return t;
  }();
  return *table;
}

void CommandTable::build() {
  index_.clear();
  index_.reserve(rows_.size() * 2);
  for (size_t i = 0; i < rows_.size(); ++i)
    index_.emplace(rows_[i].name, i);
}

const CommandInfo* CommandTable::find(std::string_view name) const {
  char lower[48];
  if (name.empty() || name.size() > sizeof lower)
    return nullptr;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  auto it = index_.find(std::string_view(lower, name.size()));
  return it == index_.end() ? nullptr : &rows_[it->second];
}

void CommandTable::keyPositions(const CommandInfo& cmd, size_t argc, const std::string_view* args,
                                std::vector<int>* out) {
  const int n = static_cast<int>(argc);
  switch (cmd.keys) {
  case KeySpec::kNone:
    return;
  case KeySpec::kRange: {
    if (cmd.first <= 0 || cmd.first >= n)
      return;
    int last = cmd.last < 0 ? n + cmd.last : cmd.last;
    if (last >= n)
      last = n - 1;
    for (int i = cmd.first; i <= last; i += std::max(cmd.step, 1))
      out->push_back(i);
    return;
  }
  case KeySpec::kNumkeys: {
    if (cmd.last > 0 && cmd.last < n)
      out->push_back(cmd.last);
    if (cmd.first >= n)
      return;
    // numkeys is validated by Redis itself; a bad value just yields the keys we can see.
    const std::string_view s = args[cmd.first];
    long long k = 0;
    for (char c : s) {
      if (c < '0' || c > '9' || k > 1000000)
        return;
      k = k * 10 + (c - '0');
    }
    for (long long i = 0; i < k && cmd.first + 1 + i < n; ++i)
      out->push_back(static_cast<int>(cmd.first + 1 + i));
    return;
  }
  case KeySpec::kStreams: {
    for (int i = 1; i < n; ++i) {
      const std::string_view a = args[i];
      if (a.size() == 7 && (a[0] == 's' || a[0] == 'S')) {
        char buf[7];
        for (int j = 0; j < 7; ++j)
          buf[j] = static_cast<char>(std::tolower(a[j]));
        if (std::string_view(buf, 7) != "streams")
          continue;
        const int rest = n - i - 1;
        for (int j = 0; j < rest / 2; ++j)
          out->push_back(i + 1 + j);
        return;
      }
    }
    return;
  }
  }
}

namespace {

std::string_view str(const redisReply* r) {
  return (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS))
             ? std::string_view(r->str, r->len)
             : std::string_view();
}

uint32_t flagsFromUpstream(const redisReply* flags, const redisReply* categories) {
  uint32_t f = 0;
  auto scan = [&](const redisReply* list) {
    if (!list || list->type != REDIS_REPLY_ARRAY)
      return;
    for (size_t i = 0; i < list->elements; ++i) {
      const std::string_view s = str(list->element[i]);
      if (s == "readonly" || s == "@read")
        f |= kRead;
      else if (s == "write" || s == "@write")
        f |= kWrite;
      else if (s == "admin" || s == "@admin")
        f |= kAdmin;
      else if (s == "@dangerous")
        f |= kDangerous;
      else if (s == "pubsub" || s == "@pubsub")
        f |= kPubsub;
      else if (s == "blocking" || s == "@blocking")
        f |= kBlocking;
      else if (s == "@scripting")
        f |= kScripting;
      else if (s == "@keyspace")
        f |= kKeyspace;
      else if (s == "@transaction")
        f |= kTransaction;
    }
  };
  scan(flags);
  scan(categories);
  return f;
}

}  // namespace

std::shared_ptr<const CommandTable> CommandTable::learnFromUpstream(const redisReply* root) {
  auto table = std::make_shared<CommandTable>();
  table->rows_.assign(std::begin(kRows), std::end(kRows));
  if (root && root->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < root->elements; ++i) {
      const redisReply* c = root->element[i];
      if (!c || c->type != REDIS_REPLY_ARRAY || c->elements < 6)
        continue;
      std::string name(str(c->element[0]));
      if (name.empty() || name.size() > 47)
        continue;
      for (char& ch : name)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (builtin().find(name))
        continue;
      auto as_int = [&](size_t k) {
        return c->element[k]->type == REDIS_REPLY_INTEGER ? static_cast<int>(c->element[k]->integer)
                                                          : 0;
      };
      table->learned_names_.push_back(std::make_unique<std::string>(std::move(name)));
      CommandInfo info{*table->learned_names_.back(),
                       as_int(1),
                       flagsFromUpstream(c->element[2], c->elements > 6 ? c->element[6] : nullptr),
                       as_int(3) > 0 ? KeySpec::kRange : KeySpec::kNone,
                       as_int(3),
                       as_int(4),
                       as_int(5),
                       CmdId::kOther};
      if (info.keys == KeySpec::kNone)
        info.flags |= kNoKeys;
      table->rows_.push_back(info);
    }
  }
  table->build();
  return table;
}

}  // namespace kw

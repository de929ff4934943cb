#include <string>
#include <string_view>
#include <vector>

#include <doctest.h>

#include "platform_policy.h"
#include "policy/ttl_policy.h"

namespace kw {
namespace {

using testing::makeNs;
using testing::platformPolicy;

constexpr int64_t kNowMs = 1700000000123;
constexpr int64_t kNowS = kNowMs / 1000;
const std::string kSession = "session:0b6f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b:s1";
const std::string kRl = "rl:login:10.0.0.1";
const std::string kDoc = "doc:processing:d1";
const std::string kCache = "acme:cache:page:1";

std::string join(const std::vector<std::string>& args) {
  std::string out;
  for (const std::string& a : args) {
    if (!out.empty())
      out += ' ';
    out += a;
  }
  return out;
}

struct Result {
  TtlDecision decision;
  std::string sent;  // the command that goes upstream, joined by spaces ("" when refused)
  std::vector<std::string> followups;
  std::string error;
  std::vector<TtlEvent> events;
};

class Stage {
public:
  explicit Stage(std::shared_ptr<const CompiledPolicy> policy) : policy_(std::move(policy)) {}
  Stage() : Stage(platformPolicy()) {}

  Result run(std::vector<std::string> args, int64_t now_ms = kNowMs) {
    const CommandInfo* cmd = CommandTable::builtin().find(args.at(0));
    REQUIRE(cmd != nullptr);
    std::vector<std::string_view> views(args.begin(), args.end());
    Result r;
    r.decision = applyTtlPolicy(*policy_, *cmd, views, now_ms, &scratch_);
    switch (r.decision) {
    case TtlDecision::kPass:
      CHECK(scratch_.args.empty());
      r.sent = join(args);
      break;
    case TtlDecision::kRewrite:
      REQUIRE_FALSE(scratch_.args.empty());
      r.sent = join(scratch_.args);
      break;
    case TtlDecision::kRefuse:
      CHECK(scratch_.followups.empty());
      CHECK(scratch_.error.find_first_of("\r\n") == std::string::npos);
      break;
    }
    for (const auto& f : scratch_.followups)
      r.followups.push_back(join(f));
    r.error = scratch_.error;
    r.events = scratch_.events;
    // A rewritten command is a fixed point: sent again, it needs nothing more.
    if (r.decision == TtlDecision::kRewrite) {
      std::vector<std::string> again = scratch_.args;
      std::vector<std::string_view> again_views(again.begin(), again.end());
      const CommandInfo* again_cmd = CommandTable::builtin().find(again[0]);
      TtlScratch s2;
      CHECK(applyTtlPolicy(*policy_, *again_cmd, again_views, now_ms, &s2) == TtlDecision::kPass);
    }
    return r;
  }

  uint32_t ns(std::string_view name) const {
    for (uint32_t i = 0; i < policy_->namespaceCount(); ++i) {
      if (policy_->ns(i).name == name)
        return i;
    }
    return Resolution::kNone;
  }

private:
  std::shared_ptr<const CompiledPolicy> policy_;
  TtlScratch scratch_;
};

void checkPass(Stage& s, std::vector<std::string> args) {
  const std::string joined = join(args);
  INFO(joined);
  const Result r = s.run(std::move(args));
  CHECK(r.decision == TtlDecision::kPass);
  CHECK(r.followups.empty());
  CHECK(r.events.empty());
}

void checkRewrite(Stage& s, std::vector<std::string> args, const std::string& want) {
  const std::string joined = join(args);
  INFO(joined);
  const Result r = s.run(std::move(args));
  CHECK(r.decision == TtlDecision::kRewrite);
  CHECK(r.sent == want);
  CHECK(r.followups.empty());
}

std::string refusal(Stage& s, std::vector<std::string> args) {
  const std::string joined = join(args);
  INFO(joined);
  const Result r = s.run(std::move(args));
  CHECK(r.decision == TtlDecision::kRefuse);
  return r.error;
}

std::vector<std::string> followups(Stage& s, std::vector<std::string> args) {
  const std::string joined = join(args);
  INFO(joined);
  const Result r = s.run(std::move(args));
  CHECK(r.decision == TtlDecision::kPass);
  return r.followups;
}

TEST_CASE("ttl: SET without an expiry gets the namespace default") {
  Stage s;
  const Result r = s.run({"SET", kSession, "v"});
  CHECK(r.decision == TtlDecision::kRewrite);
  CHECK(r.sent == "SET " + kSession + " v EX 2592000");
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].ns == s.ns("session"));
  CHECK(r.events[0].action == TtlAction::kRewriteDefault);
  checkRewrite(s, {"set", kRl, "1", "NX"}, "set " + kRl + " 1 NX EX 60");
  checkRewrite(s, {"SET", kRl, "1", "xx", "get"}, "SET " + kRl + " 1 xx get EX 60");
  checkRewrite(s, {"SET", kCache, "1"}, "SET " + kCache + " 1 EX 300");  // default, not required
  checkPass(s, {"SET", "profile:1", "v"});
  checkPass(s, {"SET", "foo", "v"});
  checkPass(s, {"SET", kSession, "v", "EX", "60"});
}

TEST_CASE("ttl: SET KEEPTTL in a ttl_required namespace gets a follow-up") {
  Stage s;
  Result r = s.run({"SET", kSession, "v", "KEEPTTL"});
  CHECK(r.decision == TtlDecision::kPass);
  CHECK(r.followups == std::vector<std::string>{"EXPIRE " + kSession + " 2592000 NX"});
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].action == TtlAction::kFollowup);
  checkPass(s, {"SET", kCache, "v", "KEEPTTL"});
}

TEST_CASE("ttl: SET syntax Redis rejects passes unchanged") {
  Stage s;
  checkPass(s, {"SET", kRl, "v", "EX", "10", "PX", "5"});
  checkPass(s, {"SET", kRl, "v", "KEEPTTL", "EX", "5"});
  checkPass(s, {"SET", kRl, "v", "EX", "99999", "KEEPTTL"});
  checkPass(s, {"SET", kRl, "v", "NX", "XX"});
  checkPass(s, {"SET", kRl, "v", "EX"});
  checkPass(s, {"SET", kRl, "v", "PERSIST"});
  checkPass(s, {"SET", kRl, "v", "bogus"});
  checkPass(s, {"SET", kRl});  // arity
}

TEST_CASE("ttl: expiry values Redis rejects pass unchanged") {
  Stage s;
  for (const char* bad : {"0", "-5", "abc", "007", "+5", " 5", "5 ", "1.5", "", "-0",
                          "99999999999999999999", "9223372036854776"}) {
    checkPass(s, {"SET", kRl, "v", "EX", bad});
    checkPass(s, {"SETEX", kRl, bad, "v"});
    checkPass(s, {"SET", kDoc, "v", "EX", bad});
  }
  // Valid integers whose expiry overflows once now is added: Redis errors, so do we not touch.
  checkPass(s, {"SET", kRl, "v", "EX", "9223372036854775"});
  checkPass(s, {"SET", kRl, "v", "PX", "9223372036854775807"});
  checkPass(s, {"PSETEX", kRl, "9223372036854775807", "v"});
}

TEST_CASE("ttl: explicit TTLs above the maximum are clamped") {
  Stage s;
  const Result r = s.run({"SET", kRl, "v", "EX", "99999"});
  CHECK(r.sent == "SET " + kRl + " v EX 3600");
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].ns == s.ns("rl"));
  CHECK(r.events[0].action == TtlAction::kClamp);
  checkPass(s, {"SET", kRl, "v", "EX", "3600"});
  checkRewrite(s, {"SET", kRl, "v", "PX", "3600001"}, "SET " + kRl + " v PX 3600000");
  checkPass(s, {"SET", kRl, "v", "PX", "3600000"});
  checkRewrite(s, {"SET", kRl, "v", "ex", "92233720368547"}, "SET " + kRl + " v ex 3600");
  // Only the last expiry counts, as in Redis.
  checkRewrite(s, {"SET", kRl, "v", "EX", "10", "EX", "99999"}, "SET " + kRl + " v EX 10 EX 3600");
  checkPass(s, {"SET", kRl, "v", "EX", "99999", "EX", "10"});
  // Redis compares option keywords as C strings.
  checkRewrite(s, {"SET", kRl, "v", std::string("ex\0junk", 7), "99999"},
               "SET " + kRl + " v " + std::string("ex\0junk", 7) + " 3600");
  checkRewrite(s, {"SETEX", kRl, "99999", "v"}, "SETEX " + kRl + " 3600 v");
  checkRewrite(s, {"PSETEX", kRl, "99999999", "v"}, "PSETEX " + kRl + " 3600000 v");
  checkRewrite(s, {"GETEX", kRl, "EX", "99999"}, "GETEX " + kRl + " EX 3600");
  checkRewrite(s, {"GETEX", kRl, "PX", "99999999"}, "GETEX " + kRl + " PX 3600000");
  checkRewrite(s, {"EXPIRE", kRl, "99999"}, "EXPIRE " + kRl + " 3600");
  checkRewrite(s, {"EXPIRE", kRl, "99999", "GT"}, "EXPIRE " + kRl + " 3600 GT");
  checkRewrite(s, {"PEXPIRE", kRl, "3600001", "xx"}, "PEXPIRE " + kRl + " 3600000 xx");
  checkPass(s, {"EXPIRE", kRl, "3600"});
  checkPass(s, {"EXPIRE", kRl, "-1"});  // deletes the key
  checkPass(s, {"EXPIRE", kRl, "0"});
  checkPass(s, {"EXPIRE", kRl, "99999", "bogus"});
  checkPass(s, {"EXPIRE", kRl, "99999", "NX", "XX"});
  checkPass(s, {"EXPIRE", kRl, "99999", "GT", "LT"});
  checkPass(s, {"EXPIRE", kRl, "9223372036854776"});
  checkPass(s, {"EXPIRE", "profile:1", "99999999"});
  checkPass(s, {"EXPIRE", kSession, "2592000"});
}

TEST_CASE("ttl: absolute expiry times count from now") {
  Stage s;
  const std::string far_s = std::to_string(kNowS + 99999);
  const std::string clamp_s = std::to_string((kNowMs + 3600000) / 1000);
  const std::string clamp_ms = std::to_string(kNowMs + 3600000);
  checkRewrite(s, {"SET", kRl, "v", "EXAT", far_s}, "SET " + kRl + " v EXAT " + clamp_s);
  checkRewrite(s, {"SET", kRl, "v", "PXAT", std::to_string(kNowMs + 3600001)},
               "SET " + kRl + " v PXAT " + clamp_ms);
  checkPass(s, {"SET", kRl, "v", "PXAT", std::to_string(kNowMs + 3600000)});
  checkPass(s, {"SET", kRl, "v", "EXAT", std::to_string(kNowS - 10)});  // in the past
  checkRewrite(s, {"GETEX", kRl, "EXAT", far_s}, "GETEX " + kRl + " EXAT " + clamp_s);
  checkRewrite(s, {"EXPIREAT", kRl, far_s}, "EXPIREAT " + kRl + " " + clamp_s);
  checkRewrite(s, {"PEXPIREAT", kRl, "9223372036854775807"}, "PEXPIREAT " + kRl + " " + clamp_ms);
  checkPass(s, {"EXPIREAT", kRl, "1"});
  checkPass(s, {"EXPIREAT", kRl, "-9223372036854775"});
  checkPass(s, {"EXPIREAT", kRl, "9223372036854776"});  // Redis: invalid expire time
  checkRewrite(s, {"EXPIREAT", kRl, "9223372036854775"}, "EXPIREAT " + kRl + " " + clamp_s);
}

TEST_CASE("ttl: over_max_ttl = refuse") {
  Stage s;
  Result r = s.run({"SET", kDoc, "v", "EX", "99999"});
  CHECK(r.decision == TtlDecision::kRefuse);
  CHECK(r.error == "ERR TTL of 99999 seconds for key 'doc:processing:d1' exceeds the maximum of "
                   "3600 seconds for namespace 'doc:processing'");
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].ns == s.ns("doc:processing"));
  CHECK(r.events[0].action == TtlAction::kRefuseMax);
  CHECK(refusal(s, {"SET", kDoc, "v", "PX", "3600001"}) ==
        "ERR TTL of 3601 seconds for key 'doc:processing:d1' exceeds the maximum of 3600 seconds "
        "for namespace 'doc:processing'");
  CHECK(refusal(s, {"SETEX", kDoc, "3601", "v"}).rfind("ERR TTL of 3601 seconds", 0) == 0);
  CHECK(refusal(s, {"EXPIRE", kDoc, "86400"}).rfind("ERR TTL of 86400 seconds", 0) == 0);
  CHECK(refusal(s, {"PEXPIREAT", kDoc, std::to_string(kNowMs + 3600500)})
            .rfind("ERR TTL of 3601 seconds", 0) == 0);
  CHECK(refusal(s, {"EXPIREAT", kDoc, std::to_string(kNowS + 7200)})
            .rfind("ERR TTL of 7200 seconds", 0) == 0);
  checkPass(s, {"SET", kDoc, "v", "EX", "3600"});
  checkRewrite(s, {"SET", kDoc, "v"}, "SET " + kDoc + " v EX 600");
  const std::string key = "doc:processing:" + std::string(1000, 'z') + "\n";
  const std::string e = refusal(s, {"SET", key, "v", "EX", "99999"});
  CHECK(e.find("zzz...' exceeds") != std::string::npos);
  CHECK(e.size() < 300);
}

TEST_CASE("ttl: PERSIST refused where a TTL is required") {
  Stage s;
  const Result r = s.run({"PERSIST", kSession});
  CHECK(r.decision == TtlDecision::kRefuse);
  CHECK(r.error == "ERR PERSIST refused: keys of namespace 'session' must have a TTL");
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].action == TtlAction::kRefusePersist);
  CHECK(refusal(s, {"GETEX", kRl, "persist"}) ==
        "ERR PERSIST refused: keys of namespace 'rl' must have a TTL");
  checkPass(s, {"PERSIST", kCache});
  checkPass(s, {"PERSIST", "profile:1"});
  checkPass(s, {"GETEX", kCache, "PERSIST"});
  checkPass(s, {"GETEX", kSession});
  checkPass(s, {"GETEX", kSession, "PERSIST", "EX", "5"});  // syntax error
  checkPass(s, {"GETEX", kSession, "KEEPTTL"});             // not a GETEX option
}

TEST_CASE("ttl: GETSET becomes SET ... GET EX default") {
  Stage s;
  checkRewrite(s, {"GETSET", kSession, "v"}, "SET " + kSession + " v GET EX 2592000");
  checkRewrite(s, {"getset", kCache, "v"}, "SET " + kCache + " v GET EX 300");
  checkPass(s, {"GETSET", "profile:1", "v"});
}

TEST_CASE("ttl: RESTORE") {
  Stage s;
  checkRewrite(s, {"RESTORE", kSession, "0", "payload"},
               "RESTORE " + kSession + " 2592000000 payload");
  checkRewrite(s, {"RESTORE", kSession, "0", "payload", "ABSTTL", "REPLACE"},
               "RESTORE " + kSession + " " + std::to_string(kNowMs + 2592000000) +
                   " payload ABSTTL REPLACE");
  checkRewrite(s, {"RESTORE", kRl, "99999999", "payload"}, "RESTORE " + kRl + " 3600000 payload");
  checkRewrite(s, {"RESTORE", kRl, std::to_string(kNowMs + 99999999), "p", "absttl"},
               "RESTORE " + kRl + " " + std::to_string(kNowMs + 3600000) + " p absttl");
  checkPass(s, {"RESTORE", kRl, "1000", "payload", "IDLETIME", "5"});
  CHECK(refusal(s, {"RESTORE", kDoc, "99999999", "p"}).rfind("ERR TTL of 100000 seconds", 0) == 0);
  checkPass(s, {"RESTORE", kRl, "-1", "p"});
  checkPass(s, {"RESTORE", kRl, "0", "p", "BOGUS"});
  checkPass(s, {"RESTORE", kRl, "0", "p", "IDLETIME", "5", "FREQ", "3"});
  checkPass(s, {"RESTORE", "profile:1", "0", "p"});
}

TEST_CASE("ttl: follow-ups for keys created without a TTL") {
  Stage s;
  const std::string exp_s = "EXPIRE " + kSession + " 2592000 NX";
  const std::string exp_rl = "EXPIRE " + kRl + " 60 NX";
  Result r = s.run({"HSET", kSession, "f", "v"});
  CHECK(r.decision == TtlDecision::kPass);
  CHECK(r.followups == std::vector<std::string>{exp_s});
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].ns == s.ns("session"));
  CHECK(r.events[0].action == TtlAction::kFollowup);
  for (std::vector<std::string> cmd :
       std::vector<std::vector<std::string>>{{"HSETNX", kRl, "f", "v"},
                                             {"HMSET", kRl, "f", "v"},
                                             {"HINCRBY", kRl, "f", "1"},
                                             {"HINCRBYFLOAT", kRl, "f", "1.5"},
                                             {"LPUSH", kRl, "a"},
                                             {"RPUSH", kRl, "a", "b"},
                                             {"SADD", kRl, "m"},
                                             {"ZADD", kRl, "1", "m"},
                                             {"ZINCRBY", kRl, "1", "m"},
                                             {"XADD", kRl, "*", "f", "v"},
                                             {"INCR", kRl},
                                             {"INCRBY", kRl, "5"},
                                             {"DECR", kRl},
                                             {"DECRBY", kRl, "5"},
                                             {"INCRBYFLOAT", kRl, "0.5"},
                                             {"APPEND", kRl, "x"},
                                             {"SETRANGE", kRl, "0", "x"},
                                             {"SETBIT", kRl, "7", "1"},
                                             {"SETNX", kRl, "v"},
                                             {"PFADD", kRl, "a"},
                                             {"GEOADD", kRl, "1", "2", "m"},
                                             {"BITFIELD", kRl, "INCRBY", "u8", "0", "1"}}) {
    CHECK(followups(s, cmd) == std::vector<std::string>{exp_rl});
  }
  // Destinations only.
  for (std::vector<std::string> cmd : std::vector<std::vector<std::string>>{
           {"SINTERSTORE", kRl, kSession},
           {"SUNIONSTORE", kRl, "a", "b"},
           {"SDIFFSTORE", kRl, kSession},
           {"ZUNIONSTORE", kRl, "1", kSession},
           {"ZINTERSTORE", kRl, "1", kSession},
           {"ZDIFFSTORE", kRl, "1", kSession},
           {"ZRANGESTORE", kRl, kSession, "0", "-1"},
           {"PFMERGE", kRl, kSession},
           {"GEOSEARCHSTORE", kRl, kSession, "FROMMEMBER", "m", "BYRADIUS", "1", "km"},
           {"BITOP", "AND", kRl, kSession},
           {"SMOVE", kSession, kRl, "m"},
           {"LMOVE", kSession, kRl, "LEFT", "RIGHT"},
           {"BLMOVE", kSession, kRl, "LEFT", "LEFT", "0"},
           {"RPOPLPUSH", kSession, kRl},
           {"BRPOPLPUSH", kSession, kRl, "0"},
           {"SORT", kSession, "ALPHA", "STORE", kRl},
           {"XGROUP", "CREATE", kRl, "g", "$", "MKSTREAM"}}) {
    CHECK(followups(s, cmd) == std::vector<std::string>{exp_rl});
  }
  CHECK(followups(s, {"MSET", kSession, "1", "profile:1", "2", kRl, "3"}) ==
        std::vector<std::string>{exp_s, exp_rl});
  CHECK(followups(s, {"MSETNX", kRl, "1"}) == std::vector<std::string>{exp_rl});
  CHECK(followups(s, {"MSET", kRl, "1", kSession}).empty());  // Redis: wrong number of args
  CHECK(followups(s, {"SORT", kRl, "STORE", "x", "STORE", kSession}) ==
        std::vector<std::string>{exp_s});
  CHECK(followups(s, {"SORT", kSession, "STORE"}).empty());
  CHECK(followups(s, {"XGROUP", "CREATE", kRl, "g", "$"}).empty());
  // Namespaces without ttl_required get none; nor do keys that only ever exist already.
  checkPass(s, {"HSET", kCache, "f", "v"});
  checkPass(s, {"HSET", "profile:1", "f", "v"});
  checkPass(s, {"INCR", "foo"});
  checkPass(s, {"LPUSHX", kRl, "a"});
  checkPass(s, {"LINSERT", kRl, "BEFORE", "a", "b"});
  checkPass(s, {"SINTERSTORE", "profile:1", kRl});
  checkPass(s, {"HSET", kRl});  // arity: Redis refuses it
}

TEST_CASE("ttl: RENAME and COPY carry the source TTL; cap it too") {
  Stage s;
  CHECK(followups(s, {"RENAME", kSession, kRl}) ==
        std::vector<std::string>{"EXPIRE " + kRl + " 60 NX", "EXPIRE " + kRl + " 3600 LT"});
  CHECK(followups(s, {"RENAMENX", "profile:1", kSession}) ==
        std::vector<std::string>{"EXPIRE " + kSession + " 2592000 NX",
                                 "EXPIRE " + kSession + " 2592000 LT"});
  CHECK(followups(s, {"COPY", "profile:1", kCache}) ==
        std::vector<std::string>{"EXPIRE " + kCache + " 86400 LT"});
  CHECK(followups(s, {"COPY", "profile:1", kRl, "REPLACE"}).size() == 2);
  checkPass(s, {"COPY", kRl, kSession, "DB", "2"});
  checkPass(s, {"COPY", kRl, kSession, std::string("db\0", 3), "2"});
  checkPass(s, {"RENAME", kSession, "profile:1"});
}

TEST_CASE("ttl: no TTL rules anywhere -> everything passes") {
  PolicyConfig c;
  c.namespaces = {makeNs("a", "a:{x}")};
  Stage s(CompiledPolicy::build(c, nullptr));
  checkPass(s, {"SET", "a:1", "v"});
  checkPass(s, {"PERSIST", "a:1"});
  checkPass(s, {"HSET", "a:1", "f", "v"});
}

TEST_CASE("ttl: max without default: explicit TTLs capped, SET left alone") {
  PolicyConfig c;
  c.namespaces = {makeNs("m", "m:{x}", 0, 100)};
  Stage s(CompiledPolicy::build(c, nullptr));
  checkPass(s, {"SET", "m:1", "v"});
  checkRewrite(s, {"SET", "m:1", "v", "EX", "101"}, "SET m:1 v EX 100");
  checkPass(s, {"PERSIST", "m:1"});
  checkPass(s, {"RESTORE", "m:1", "0", "p"});
  checkPass(s, {"HSET", "m:1", "f", "v"});
}

TEST_CASE("ttl: commands without TTL effects pass") {
  Stage s;
  checkPass(s, {"GET", kSession});
  checkPass(s, {"DEL", kSession});
  checkPass(s, {"TTL", kSession});
  checkPass(s, {"PING"});
  checkPass(s, {"EVAL_RO", "return 1", "1", kSession});
}

TEST_CASE("ttl: scripts get follow-ups for their declared keys") {
  Stage s;
  const std::string exp = "EXPIRE " + kSession + " 2592000 NX";
  CHECK(followups(s, {"EVAL", "redis.call('set', KEYS[1], 1)", "1", kSession}) ==
        std::vector<std::string>{exp});
  CHECK(followups(s, {"EVALSHA", "abc", "2", kSession, "x"}) == std::vector<std::string>{exp});
  CHECK(followups(s, {"FCALL", "f", "1", kSession}) == std::vector<std::string>{exp});
  // numkeys Redis would refuse: left for Redis to answer.
  checkPass(s, {"EVAL", "return 1", "3", kSession});
  checkPass(s, {"EVAL", "return 1", "-1", kSession});
  checkPass(s, {"EVAL", "return 1", "x", kSession});
}

TEST_CASE("ttl: adversarial keys") {
  Stage s;
  checkPass(s, {"SET", "", "v"});
  // Under the prefix but not the shape: still the namespace's key (the access check refuses it
  // where enforce_shape is set).
  checkRewrite(s, {"SET", std::string("rl:\0\xff", 5), "v"},
               "SET " + std::string("rl:\0\xff", 5) + " v EX 60");
  const std::string binary_rl = std::string("rl:\0\xff:\r\n", 8);
  checkRewrite(s, {"SET", binary_rl, "v"}, "SET " + binary_rl + " v EX 60");
  const std::string huge = "rl:a:" + std::string(1 << 20, 'x');
  const Result r = s.run({"SET", huge, "v", "EX", "99999"});
  CHECK(r.decision == TtlDecision::kRewrite);
  CHECK(r.sent.size() == huge.size() + 14);
}

}  // namespace
}  // namespace kw

namespace kw {
namespace {

std::shared_ptr<const CompiledPolicy> blacklistPolicy() {
  PolicyConfig c;
  NamespaceConfig bl = testing::makeNs("blacklist:access", "blacklist:access:{jti}", 0, 2592000,
                                       true, OverMaxTtl::kRefuse);
  bl.kind = NamespaceKind::kBlacklist;
  c.namespaces = {bl, testing::makeNs("other", "other:{id}")};
  std::string err;
  auto p = CompiledPolicy::build(c, &err);
  REQUIRE_MESSAGE(p, err);
  return p;
}

TEST_CASE("ttl: a blacklist write must carry the token's expiry; never clamped") {
  Stage s(blacklistPolicy());
  const std::string k = "blacklist:access:j1";
  // Carrying an expiry within the maximum: unchanged.
  checkPass(s, {"SET", k, "1", "EX", "3600"});
  checkPass(s, {"SET", k, "1", "PXAT", std::to_string(kNowMs + 1000)});
  checkPass(s, {"SETEX", k, "2592000", "1"});
  checkPass(s, {"PSETEX", k, "1000", "1"});
  checkPass(s, {"EXPIRE", k, "60"});
  // No expiry: refused, saying why.
  for (std::vector<std::string> cmd : {std::vector<std::string>{"SET", k, "1"},
                                       {"SET", k, "1", "KEEPTTL"},
                                       {"SET", k, "1", "NX"},
                                       {"GETSET", k, "1"},
                                       {"SETNX", k, "1"},
                                       {"MSET", "other:1", "x", k, "1"},
                                       {"APPEND", k, "x"},
                                       {"INCR", k},
                                       {"RESTORE", k, "0", "payload"},
                                       {"RENAME", "other:1", k},
                                       {"COPY", "other:1", k}}) {
    const std::string joined = join(cmd);
    INFO(joined);
    const Result r = s.run(cmd);
    CHECK(r.decision == TtlDecision::kRefuse);
    CHECK(r.error.find("ERR blacklist write refused") == 0);
    CHECK(r.error.find("must carry its token's expiry") != std::string::npos);
    CHECK(r.followups.empty());
  }
  // Too long: refused, not clamped (a clamped revocation would expire before its token).
  const Result far = s.run({"SET", k, "1", "EXAT", std::to_string(kNowS + 2592000 + 200000)});
  CHECK(far.decision == TtlDecision::kRefuse);
  CHECK(far.error.find("exceeds the maximum of 2592000 seconds") != std::string::npos);
  CHECK(s.run({"SETEX", k, "2592001", "1"}).decision == TtlDecision::kRefuse);
  CHECK(s.run({"EXPIRE", k, "2592001"}).decision == TtlDecision::kRefuse);
  // PERSIST refused.
  CHECK(s.run({"PERSIST", k}).decision == TtlDecision::kRefuse);
  CHECK(s.run({"GETEX", k, "PERSIST"}).decision == TtlDecision::kRefuse);
  // Moving one blacklist key to another carries its expiry (capped like any carried TTL).
  CHECK(s.run({"RENAME", k, "blacklist:access:j2"}).decision == TtlDecision::kPass);
  // Other namespaces: as before.
  checkPass(s, {"SET", "other:1", "x"});
}

TEST_CASE("ttl: a script's declared blacklist keys get no EXPIRE 0 follow-up") {
  Stage s(blacklistPolicy());
  const Result r = s.run({"EVAL", "return 1", "1", "blacklist:access:j1"});
  CHECK(r.decision == TtlDecision::kPass);
  CHECK(r.followups.empty());
}

}  // namespace
}  // namespace kw

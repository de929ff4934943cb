#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <doctest.h>

#include "platform_policy.h"
#include "policy/access_check.h"

namespace kw {
namespace {

using testing::makeNs;
using testing::platformConfig;
using testing::platformPolicy;

constexpr char kSession[] = "session:0b6f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b:s1";
constexpr char kSession2[] = "session:0B6F3A4E-1C2D-4E5F-8A9B-0C1D2E3F4A5B:s2";

class Gate {
public:
  explicit Gate(std::shared_ptr<const CompiledPolicy> policy) : policy_(std::move(policy)) {}
  Gate() : Gate(platformPolicy()) {}

  // "" when allowed, else the error reply.
  std::string run(std::string_view user, std::vector<std::string> args) {
    const CompiledUser* u = policy_->findUser(user);
    REQUIRE(u != nullptr);
    const CommandInfo* cmd = CommandTable::builtin().find(args.at(0));
    REQUIRE(cmd != nullptr);
    std::vector<std::string_view> views(args.begin(), args.end());
    std::string error;
    const bool ok = checkAccess(*policy_, *u, *cmd, views, &scratch_, &error);
    CHECK(ok == error.empty());
    CHECK(error.find_first_of("\r\n") == std::string::npos);
    return error;
  }

  const PolicyScratch& scratch() const { return scratch_; }
  const CompiledPolicy& policy() const { return *policy_; }

private:
  std::shared_ptr<const CompiledPolicy> policy_;
  PolicyScratch scratch_;
};

uint32_t nsId(const CompiledPolicy& p, std::string_view name) {
  for (uint32_t i = 0; i < p.namespaceCount(); ++i) {
    if (p.ns(i).name == name)
      return i;
  }
  return Resolution::kNone;
}

TEST_CASE("access: reads and writes within granted namespaces") {
  Gate g;
  CHECK(g.run("auth-service", {"GET", kSession}) == "");
  CHECK(g.run("auth-service", {"SET", kSession, "v", "EX", "10"}) == "");
  CHECK(g.run("auth-service", {"set", kSession2, "v"}) == "");
  CHECK(g.run("auth-service", {"INCR", "rl:login:10.0.0.1"}) == "");
  CHECK(g.run("auth-service", {"EXISTS", "blacklist:access:jti1", "blacklist:refresh:jti2"}) == "");
  CHECK(g.run("auth-service", {"DEL", kSession}) == "");
  CHECK(g.run("user-service", {"HGETALL", "profile:7"}) == "");
  CHECK(g.run("user-service", {"SET", "user:email:a@b.c", "7"}) == "");
  CHECK(g.run("user-service", {"GET", kSession}) == "");  // read-only grant
  CHECK(g.run("ops", {"GET", "anything"}) == "");
}

TEST_CASE("access: namespace permissions") {
  Gate g;
  CHECK(g.run("auth-service", {"GET", "profile:7"}) ==
        "NOPERM User auth-service has no permissions to access the 'profile:7' key (namespace "
        "'profile' is not readable by this user)");
  CHECK(g.run("user-service", {"DEL", kSession}) ==
        std::string("NOPERM User user-service has no permissions to access the '") + kSession +
            "' key (namespace 'session' is not writable by this user)");
  CHECK(g.run("auth-service", {"SET", "user:id:1", "x"}) ==
        "NOPERM User auth-service has no permissions to access the 'user:id:1' key (namespace "
        "'user:id' is not writable by this user)");
  CHECK(g.run("auth-service", {"SET", "acme:cache:x", "x"}) ==
        "NOPERM User auth-service has no permissions to access the 'acme:cache:x' key (namespace "
        "'tenant-cache' is not writable by this user)");
}

TEST_CASE("access: keys outside every namespace") {
  Gate g;
  CHECK(g.run("auth-service", {"GET", "foo"}) == "NOPERM key 'foo' is outside every namespace");
  CHECK(g.run("ops", {"GET", "foo"}) == "");  // admins are not bound by outside_namespaces

  PolicyConfig c = platformConfig();
  c.outside_namespaces = OutsidePolicy::kAllow;
  c.users[1].read.push_back("@outside");
  Gate allow(CompiledPolicy::build(c, nullptr));
  CHECK(allow.run("auth-service", {"GET", "foo"}) ==
        "NOPERM User auth-service has no permissions to access the 'foo' key (keys outside "
        "every namespace are not readable by this user)");
  CHECK(allow.run("user-service", {"GET", "foo"}) == "");
  CHECK(allow.run("user-service", {"SET", "foo", "1"}) ==
        "NOPERM User user-service has no permissions to access the 'foo' key (keys outside "
        "every namespace are not writable by this user)");
}

TEST_CASE("access: key shape") {
  Gate g;
  CHECK(g.run("auth-service", {"GET", "session:abc"}) ==
        "ERR key 'session:abc' does not match namespace 'session' "
        "(session:{user_id:uuid}:{session_id})");
  CHECK(g.run("auth-service", {"SET", std::string(kSession) + ":extra", "v"}) ==
        std::string("ERR key '") + kSession +
            ":extra' does not match namespace 'session' (session:{user_id:uuid}:{session_id})");
  CHECK(g.run("user-service", {"GET", "profile:007"}) ==
        "ERR key 'profile:007' does not match namespace 'profile' (profile:{user_id:int})");
  // Permission comes first: a user with no access to the namespace does not learn its pattern.
  CHECK(g.run("auth-service", {"GET", "profile:abc"}).rfind("NOPERM", 0) == 0);

  PolicyConfig c = platformConfig();
  c.namespaces[0].enforce_shape = false;
  Gate loose(CompiledPolicy::build(c, nullptr));
  CHECK(loose.run("auth-service", {"GET", "session:abc"}) == "");
  CHECK(loose.run("ops", {"SET", "session:abc", "v"}) == "");
}

TEST_CASE("access: key shapes bind admins too; grants do not") {
  Gate g;
  CHECK(g.policy().anyShapeRule());
  CHECK(g.run("ops", {"SET", "session:not-a-uuid:x", "1"}) ==
        "ERR key 'session:not-a-uuid:x' does not match namespace 'session' "
        "(session:{user_id:uuid}:{session_id})");
  CHECK(g.run("ops", {"GET", "session:abc"}).rfind("ERR key 'session:abc' does not match", 0) == 0);
  // Every key is checked, not only the first; the good ones before it are resolved.
  CHECK(g.run("ops", {"MSET", kSession, "v", "session:bad", "v"})
            .rfind("ERR key 'session:bad' does not match", 0) == 0);
  CHECK(g.scratch().ns_ids.size() == 2);
  // Shapes of namespaces that do not enforce them, keys outside every namespace (even under
  // outside_namespaces = "refuse"), any command: still allowed to an admin.
  CHECK(g.run("ops", {"SET", kSession, "v"}) == "");
  CHECK(g.run("ops", {"GET", "nowhere"}) == "");
  CHECK(g.run("ops", {"FLUSHALL"}) == "");
  CHECK(g.run("ops", {"MGET", "foo", kSession, "rl:a:b"}) == "");
  CHECK(g.scratch().ns_ids.size() == 3);

  PolicyConfig c = platformConfig();
  for (NamespaceConfig& ns : c.namespaces)
    ns.enforce_shape = false;
  Gate loose(CompiledPolicy::build(c, nullptr));
  CHECK_FALSE(loose.policy().anyShapeRule());
  CHECK(loose.run("ops", {"SET", "session:not-a-uuid:x", "1"}) == "");
}

TEST_CASE("access: dangerous commands need an admin") {
  Gate g;
  CHECK(g.run("auth-service", {"FLUSHALL"}) ==
        "NOPERM User auth-service has no permissions to run the 'flushall' command (dangerous "
        "commands need an admin user)");
  CHECK(g.run("auth-service", {"KEYS", "*"}) ==
        "NOPERM User auth-service has no permissions to run the 'keys' command (use SCAN instead "
        "of KEYS)");
  CHECK(g.run("auth-service", {"CONFIG", "SET", "maxmemory", "1"}) ==
        "NOPERM User auth-service has no permissions to run the 'config|set' command (dangerous "
        "commands need an admin user)");
  for (std::string cmd : {"flushdb", "debug", "shutdown", "save", "bgsave", "bgrewriteaof",
                          "replicaof", "slaveof", "cluster", "module", "acl", "migrate", "failover",
                          "sync", "psync", "restore", "monitor", "swapdb"}) {
    INFO(cmd);
    CHECK(g.run("user-service", {cmd, "a", "b", "c", "d", "e"}).find("dangerous commands need") !=
          std::string::npos);
    CHECK(g.run("ops", {cmd, "a", "b", "c", "d", "e"}) == "");
  }

  PolicyConfig c = platformConfig();
  c.users[0].categories = kCatAll;
  Gate scripting(CompiledPolicy::build(c, nullptr));
  CHECK(scripting.run("auth-service", {"SCRIPT", "flush"}) ==
        "NOPERM User auth-service has no permissions to run the 'script|flush' command "
        "(dangerous commands need an admin user)");
  CHECK(scripting.run("auth-service", {"SCRIPT", "EXISTS", "abc"}) == "");
  for (std::string sub : {"FLUSH", "delete", "Restore"}) {
    CHECK(scripting.run("auth-service", {"FUNCTION", sub, "x"}).find("dangerous") !=
          std::string::npos);
  }
  CHECK(scripting.run("auth-service", {"FUNCTION", "LIST"}) == "");
  // Redis compares the keyword as a C string: a NUL byte cuts it.
  CHECK(scripting.run("auth-service", {"SCRIPT", std::string("flush\0x", 7)}).find("dangerous") !=
        std::string::npos);
  // The dangerous category alone does not make a user an admin.
  CHECK(scripting.run("auth-service", {"FLUSHALL"}).find("dangerous") != std::string::npos);
}

TEST_CASE("access: command categories") {
  Gate g;
  CHECK(g.run("auth-service", {"PUBLISH", "ch", "m"}) ==
        "NOPERM User auth-service has no permissions to run the 'publish' command (category "
        "'pubsub' is not granted)");
  CHECK(g.run("auth-service", {"EVAL", "return 1", "0"}) ==
        "NOPERM User auth-service has no permissions to run the 'eval' command (category "
        "'scripting' is not granted)");
  // eval_ro is also @read, but a script can reach keys it does not declare.
  CHECK(g.run("auth-service", {"EVAL_RO", "return 1", "0"}).find("'scripting' is not granted") !=
        std::string::npos);
  CHECK(g.run("auth-service", {"SLOWLOG", "GET"}) ==
        "NOPERM User auth-service has no permissions to run the 'slowlog|get' command (category "
        "'admin' is not granted)");
  // Commands without a category: always allowed.
  CHECK(g.run("auth-service", {"PING"}) == "");
  CHECK(g.run("auth-service", {"INFO"}) == "");
  CHECK(g.run("auth-service", {"MULTI"}) == "");
  CHECK(g.run("auth-service", {"TIME"}) == "");

  PolicyConfig c = platformConfig();
  c.users[0].categories = kCatRead;
  Gate reader(CompiledPolicy::build(c, nullptr));
  CHECK(reader.run("auth-service", {"GET", kSession}) == "");
  CHECK(reader.run("auth-service", {"SET", kSession, "v"}) ==
        "NOPERM User auth-service has no permissions to run the 'set' command (category 'write' "
        "is not granted)");
  CHECK(reader.run("auth-service", {"DEL", kSession}) ==
        "NOPERM User auth-service has no permissions to run the 'del' command (categories "
        "'write', 'keyspace' are not granted)");
  // Any one category suffices: EXISTS is read and keyspace.
  CHECK(reader.run("auth-service", {"EXISTS", kSession}) == "");
  c.users[0].categories = kCatKeyspace;
  Gate keyspace(CompiledPolicy::build(c, nullptr));
  CHECK(keyspace.run("auth-service", {"DEL", kSession}) == "");
  CHECK(keyspace.run("auth-service", {"GET", kSession}).find("category 'read'") !=
        std::string::npos);
  c.users[0].categories = kCatAdmin;
  Gate admin_cat(CompiledPolicy::build(c, nullptr));
  CHECK(admin_cat.run("auth-service", {"SLOWLOG", "GET"}) == "");
  CHECK(admin_cat.run("auth-service", {"CONFIG", "GET", "x"}).find("dangerous") !=
        std::string::npos);
}

TEST_CASE("access: multi-key commands check every key") {
  Gate g;
  CHECK(g.run("auth-service", {"MGET", kSession, "rl:a:b", "blacklist:access:j"}) == "");
  CHECK(g.run("auth-service", {"MGET", kSession, "profile:1", "foo"}) ==
        "NOPERM User auth-service has no permissions to access the 'profile:1' key (namespace "
        "'profile' is not readable by this user)");
  CHECK(g.scratch().ns_ids.size() == 2);  // filled up to the refused key
  CHECK(g.run("auth-service", {"MSET", kSession, "1", "rl:a:b", "2"}) == "");
  CHECK(g.run("auth-service", {"MSET", kSession, "profile:1", "user:id:1", "2"}) ==
        "NOPERM User auth-service has no permissions to access the 'user:id:1' key (namespace "
        "'user:id' is not writable by this user)");  // values are not keys
  CHECK(g.run("auth-service", {"DEL", kSession, "rl:a:b", "profile:1"}).find("'profile:1'") !=
        std::string::npos);
  CHECK(g.run("auth-service", {"DEL", kSession, "rl:a:b", "session:bad"}).rfind("ERR key", 0) == 0);
}

TEST_CASE("access: RENAME across namespaces, store commands, COPY, BITOP, SORT") {
  Gate g;
  CHECK(g.run("auth-service", {"RENAME", kSession, kSession2}) == "");
  CHECK(g.run("user-service", {"RENAME", "user:id:1", "user:email:x"}) == "");
  CHECK(g.run("auth-service", {"RENAME", kSession, "profile:1"}) ==
        "NOPERM User auth-service has no permissions to access the 'profile:1' key (namespace "
        "'profile' is not writable by this user)");
  // The source of RENAME is deleted: write access needed.
  CHECK(g.run("user-service", {"RENAME", kSession, "user:id:1"}).find("is not writable") !=
        std::string::npos);
  // Store commands: sources need read only.
  CHECK(g.run("user-service", {"SINTERSTORE", "user:id:1", kSession, "profile:2"}) == "");
  CHECK(g.run("user-service", {"SINTERSTORE", kSession, "user:id:1"}) ==
        std::string("NOPERM User user-service has no permissions to access the '") + kSession +
            "' key (namespace 'session' is not writable by this user)");
  CHECK(g.run("auth-service", {"SINTERSTORE", kSession, "rl:a:b", "profile:2"}) ==
        "NOPERM User auth-service has no permissions to access the 'profile:2' key (namespace "
        "'profile' is not readable by this user)");
  CHECK(g.run("user-service", {"ZUNIONSTORE", "user:id:1", "2", kSession, "profile:1"}) == "");
  CHECK(g.run("user-service", {"ZUNIONSTORE", kSession, "1", "profile:1"}).find("not writable") !=
        std::string::npos);
  CHECK(g.run("user-service", {"COPY", kSession, "profile:3"}) == "");
  CHECK(g.run("user-service", {"COPY", "profile:3", kSession}).find("not writable") !=
        std::string::npos);
  CHECK(g.run("user-service", {"BITOP", "AND", "profile:4", kSession, "user:id:1"}) == "");
  CHECK(g.run("user-service", {"PFMERGE", "profile:4", kSession}) == "");
  CHECK(g.run("user-service", {"SMOVE", kSession, "profile:4", "m"}).find("not writable") !=
        std::string::npos);
  CHECK(g.run("user-service", {"SORT", kSession}) == "");
  CHECK(g.run("user-service", {"SORT", kSession, "LIMIT", "0", "5", "STORE", "profile:5"}) == "");
  CHECK(g.run("user-service", {"SORT", "profile:5", "STORE", kSession}).find("not writable") !=
        std::string::npos);
  CHECK(g.run("user-service", {"SORT", "profile:5", std::string("store\0", 6), kSession})
            .find("not writable") != std::string::npos);
  CHECK(g.run("user-service", {"SORT", "profile:5", "BY", "w_*"}) ==
        "ERR BY option of SORT denied due to insufficient ACL permissions.");
  CHECK(g.run("user-service", {"SORT_RO", "profile:5", "GET", "h_*->f"}) ==
        "ERR GET option of SORT denied due to insufficient ACL permissions.");
  CHECK(g.run("user-service", {"SORT", "profile:5", "BY", "nosort", "GET", "#"}) == "");
  CHECK(g.run("ops", {"SORT", "x", "BY", "w_*", "GET", "h_*"}) == "");
}

TEST_CASE("access: EVAL with numkeys; scripts need read and write") {
  PolicyConfig c = platformConfig();
  c.users[0].categories |= kCatScripting;
  c.users[1].categories |= kCatScripting;
  Gate g(CompiledPolicy::build(c, nullptr));
  CHECK(g.run("auth-service", {"EVAL", "return 1", "2", kSession, "rl:a:b", "profile:1"}) == "");
  CHECK(g.run("auth-service", {"EVAL", "return 1", "2", kSession, "profile:1"}) ==
        "NOPERM User auth-service has no permissions to access the 'profile:1' key (namespace "
        "'profile' is not readable by this user)");
  CHECK(g.run("user-service", {"EVALSHA", "abc", "1", kSession}).find("not writable") !=
        std::string::npos);
  CHECK(g.run("user-service", {"EVAL_RO", "return 1", "1", kSession}) == "");
  CHECK(g.run("user-service", {"FCALL_RO", "f", "1", kSession}) == "");
  CHECK(g.run("user-service", {"FCALL", "f", "1", kSession}).find("not writable") !=
        std::string::npos);
  CHECK(g.run("auth-service", {"EVAL", "return 1", "0"}) == "");
  // A numkeys Redis will reject just yields the keys we can see.
  CHECK(g.run("auth-service", {"EVAL", "return 1", "5", kSession}) == "");
  CHECK(g.run("auth-service", {"EVAL", "return 1", "-1", "profile:1"}) == "");
}

TEST_CASE("access: XREAD/XREADGROUP keys are found as Redis parses the options") {
  Gate g;
  CHECK(g.run("auth-service", {"XREAD", "COUNT", "5", "STREAMS", kSession, "rl:a:b", "0", "0"}) ==
        "");
  CHECK(g.scratch().positions == std::vector<int>{4, 5});
  CHECK(g.run("auth-service", {"XREAD", "BLOCK", "0", "STREAMS", "profile:1", "0"})
            .find("'profile:1' key") != std::string::npos);
  // "streams" as a group name is not the STREAMS keyword.
  CHECK(g.run("auth-service",
              {"XREADGROUP", "GROUP", "streams", "c", "NOACK", "STREAMS", "profile:1", ">"})
            .find("'profile:1' key (namespace 'profile' is not writable") != std::string::npos);
  // Redis compares the keyword as a C string.
  CHECK(g.run("auth-service", {"XREAD", std::string("STREAMS\0x", 9), "profile:1", "0"})
            .find("'profile:1' key") != std::string::npos);
  // Syntax errors and unbalanced lists: Redis refuses them before touching any key.
  CHECK(g.run("auth-service", {"XREAD", "STREAMS", "profile:1", "profile:2", "0"}) == "");
  CHECK(g.run("auth-service", {"XREAD", "BOGUS", "STREAMS", "profile:1", "0"}) == "");
}

TEST_CASE("access: pub/sub channels") {
  Gate g;
  CHECK(g.run("user-service", {"PUBLISH", "user:created", "m"}) == "");
  CHECK(g.run("user-service", {"PUBLISH", "profile.updated", "m"}) == "");
  CHECK(g.run("user-service", {"PUBLISH", "auth:login", "m"}) ==
        "NOPERM User user-service has no permissions to access the 'auth:login' channel");
  CHECK(g.run("user-service", {"SPUBLISH", "auth:login", "m"}).find("'auth:login' channel") !=
        std::string::npos);
  CHECK(g.run("user-service", {"SUBSCRIBE", "user:a", "user:b"}) == "");
  CHECK(g.run("user-service", {"SUBSCRIBE", "user:a", "other"}) ==
        "NOPERM User user-service has no permissions to access the 'other' channel");
  CHECK(g.run("user-service", {"SSUBSCRIBE", "other"}).find("'other' channel") !=
        std::string::npos);
  // Patterns must be granted literally.
  CHECK(g.run("user-service", {"PSUBSCRIBE", "user:*"}) == "");
  CHECK(g.run("user-service", {"PSUBSCRIBE", "user:a*"}) ==
        "NOPERM User user-service has no permissions to access the 'user:a*' channel");
  CHECK(g.run("user-service", {"PSUBSCRIBE", "*"}).find("channel") != std::string::npos);
  CHECK(g.run("user-service", {"UNSUBSCRIBE", "anything"}) == "");
  CHECK(g.run("user-service", {"PUBLISH", std::string("bad\r\nch", 7), "m"}) ==
        "NOPERM User user-service has no permissions to access the 'bad\\r\\nch' channel");
  CHECK(g.run("ops", {"PSUBSCRIBE", "*"}) == "");
}

TEST_CASE("access: namespace ids are exposed, also for full-access users") {
  Gate g;
  CHECK(g.run("auth-service", {"MGET", kSession, "rl:a:b", "blacklist:access:j"}) == "");
  const CompiledPolicy& p = g.policy();
  REQUIRE(g.scratch().ns_ids.size() == 3);
  CHECK(g.scratch().ns_ids[0] == nsId(p, "session"));
  CHECK(g.scratch().ns_ids[1] == nsId(p, "rl"));
  CHECK(g.scratch().ns_ids[2] == nsId(p, "blacklist:access"));
  CHECK(g.scratch().positions == std::vector<int>{1, 2, 3});
  CHECK(g.run("ops", {"MGET", "foo", "profile:1"}) == "");
  REQUIRE(g.scratch().ns_ids.size() == 2);
  CHECK(g.scratch().ns_ids[0] == Resolution::kNone);
  CHECK(g.scratch().ns_ids[1] == nsId(p, "profile"));
  CHECK(g.run("auth-service", {"PING"}) == "");
  CHECK(g.scratch().ns_ids.empty());
}

TEST_CASE("access: adversarial keys") {
  Gate g;
  CHECK(g.run("auth-service", {"GET", ""}) == "NOPERM key '' is outside every namespace");
  const std::string binary("rl:\x00\xff\r\n", 7);
  CHECK(g.run("auth-service", {"GET", binary}) ==
        "ERR key 'rl:\\x00\\xff\\r\\n' does not match namespace 'rl' (rl:{bucket}:{client})");
  const std::string huge = "profile:" + std::string(1 << 20, '9');
  const std::string e = g.run("auth-service", {"GET", huge});
  CHECK(e.size() < 300);
  CHECK(e.find("...' key") != std::string::npos);
  const std::string huge_session = std::string(kSession) + std::string(1 << 20, 'x');
  CHECK(g.run("auth-service", {"GET", huge_session}) == "");
  CHECK(g.run("auth-service", {"GET", std::string("session\0", 8)}) ==
        "NOPERM key 'session\\x00' is outside every namespace");
}

TEST_CASE("access: steady state reuses the scratch") {
  Gate g;
  CHECK(g.run("auth-service", {"MGET", kSession, kSession2, "rl:a:b"}) == "");
  const int* before = g.scratch().positions.data();
  CHECK(g.run("auth-service", {"MGET", kSession2, kSession, "rl:a:c"}) == "");
  CHECK(g.scratch().positions.data() == before);
}

}  // namespace
}  // namespace kw

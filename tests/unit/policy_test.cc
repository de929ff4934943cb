#include <string>

#include <doctest.h>

#include "platform_policy.h"
#include "policy/password.h"
#include "policy/policy.h"
#include "proxy/command_table.h"

namespace kw {
namespace {

using testing::makeNs;
using testing::platformConfig;
using testing::platformPolicy;

std::string buildError(const PolicyConfig& config) {
  std::string error;
  CHECK(CompiledPolicy::build(config, &error) == nullptr);
  return error;
}

uint32_t nsId(const CompiledPolicy& p, std::string_view name) {
  for (uint32_t i = 0; i < p.namespaceCount(); ++i) {
    if (p.ns(i).name == name)
      return i;
  }
  FAIL("no namespace " << name);
  return 0;
}

TEST_CASE("policy: platform config compiles; grants resolve to namespaces") {
  auto p = platformPolicy();
  REQUIRE(p);
  CHECK(p->namespaceCount() == 9);
  CHECK(p->requiresAuth());
  CHECK(p->defaultUser() == nullptr);
  CHECK(p->anyTtlRules());
  CHECK(p->hasTtlRules(nsId(*p, "session")));
  CHECK_FALSE(p->hasTtlRules(nsId(*p, "profile")));

  const CompiledUser* auth = p->findUser("auth-service");
  REQUIRE(auth != nullptr);
  CHECK_FALSE(auth->admin);
  CHECK_FALSE(auth->fullAccess());
  CHECK_FALSE(auth->fullKeyAccess());
  CHECK(auth->canRead(nsId(*p, "session")));
  CHECK(auth->canWrite(nsId(*p, "session")));
  CHECK(auth->canRead(nsId(*p, "blacklist:access")));
  CHECK(auth->canWrite(nsId(*p, "blacklist:refresh")));
  CHECK(auth->canWrite(nsId(*p, "rl")));
  CHECK_FALSE(auth->canRead(nsId(*p, "profile")));
  CHECK_FALSE(auth->canRead(nsId(*p, "user:id")));
  CHECK_FALSE(auth->canRead(Resolution::kNone));
  CHECK(auth->all_channels);

  const CompiledUser* users = p->findUser("user-service");
  REQUIRE(users != nullptr);
  CHECK(users->canRead(nsId(*p, "user:id")));
  CHECK(users->canWrite(nsId(*p, "user:email")));
  CHECK(users->canRead(nsId(*p, "session")));
  CHECK_FALSE(users->canWrite(nsId(*p, "session")));
  CHECK_FALSE(users->all_channels);

  const CompiledUser* ops = p->findUser("ops");
  REQUIRE(ops != nullptr);
  CHECK(ops->admin);
  CHECK(ops->fullAccess());
  CHECK(ops->fullKeyAccess());
  CHECK(ops->categories == kCatAll);
  CHECK(ops->canRead(Resolution::kNone));
  CHECK(ops->canWrite(nsId(*p, "profile")));

  CHECK(p->findUser("nobody") == nullptr);
  CHECK(p->findUser("") == nullptr);
  CHECK(p->findUser("OPS") == nullptr);  // names are case-sensitive, as in Redis
}

TEST_CASE("policy: authenticate") {
  auto p = platformPolicy();
  CHECK(p->authenticate("auth-service", "auth-service-secret") == p->findUser("auth-service"));
  CHECK(p->authenticate("auth-service", "wrong") == nullptr);
  CHECK(p->authenticate("auth-service", "") == nullptr);
  CHECK(p->authenticate("nobody", "auth-service-secret") == nullptr);
  CHECK(p->authenticate("ops", "ops-secret") != nullptr);

  PolicyConfig c = platformConfig();
  c.users[0].enabled = false;
  c.users[1].nopass = true;
  c.users[1].password_hash.clear();
  auto q = CompiledPolicy::build(c, nullptr);
  REQUIRE(q);
  CHECK(q->authenticate("auth-service", "auth-service-secret") == nullptr);  // disabled
  CHECK(q->findUser("auth-service")->checkPassword("auth-service-secret"));
  CHECK(q->authenticate("user-service", "anything") != nullptr);
  CHECK(q->authenticate("user-service", "") != nullptr);
}

TEST_CASE("policy: no users -> one implicit nopass admin 'default'") {
  PolicyConfig c;
  c.namespaces = {makeNs("session", "session:{id}")};
  auto p = CompiledPolicy::build(c, nullptr);
  REQUIRE(p);
  REQUIRE(p->defaultUser() != nullptr);
  CHECK_FALSE(p->requiresAuth());
  CHECK(p->defaultUser()->name == "default");
  CHECK(p->defaultUser()->admin);
  CHECK(p->defaultUser()->fullAccess());
  CHECK(p->authenticate("default", "whatever") == p->defaultUser());

  c.default_user = "";
  p = CompiledPolicy::build(c, nullptr);
  REQUIRE(p);
  CHECK(p->requiresAuth());
  CHECK(p->findUser("default") != nullptr);

  c.default_user = "someone";
  CHECK(buildError(c) == "default_user 'someone' is not a declared user");
}

TEST_CASE("policy: default user") {
  PolicyConfig c = platformConfig();
  c.default_user = "user-service";
  auto p = CompiledPolicy::build(c, nullptr);
  REQUIRE(p);
  CHECK(p->defaultUser() == p->findUser("user-service"));
  CHECK_FALSE(p->requiresAuth());
  c.users[1].enabled = false;  // a disabled default user means clients must AUTH
  p = CompiledPolicy::build(c, nullptr);
  REQUIRE(p);
  CHECK(p->requiresAuth());
  c.default_user = "default";
  CHECK(buildError(c) == "default_user 'default' is not a declared user");
}

TEST_CASE("policy: @outside and outside_namespaces") {
  PolicyConfig c;
  c.default_user = "";
  c.namespaces = {makeNs("a", "a:{x}", 0, 0, false, OverMaxTtl::kClamp, false),
                  makeNs("b", "b:{x}", 0, 0, false, OverMaxTtl::kClamp, false)};
  UserConfig u;
  u.name = "u";
  u.nopass = true;
  u.read = {"*", "@outside"};
  u.write = {"*", "@outside"};
  c.users = {u};
  c.outside_namespaces = OutsidePolicy::kAllow;
  auto p = CompiledPolicy::build(c, nullptr);
  REQUIRE(p);
  const CompiledUser* user = p->findUser("u");
  CHECK(user->canRead(Resolution::kNone));
  CHECK(user->read_everything);
  // Every namespace and the outside, no namespace enforcing a shape: keys need no checks, but
  // commands still do (only admins may skip checkAccess altogether).
  CHECK(user->fullKeyAccess());
  CHECK_FALSE(user->fullAccess());

  c.namespaces[1].enforce_shape = true;
  p = CompiledPolicy::build(c, nullptr);
  CHECK_FALSE(p->findUser("u")->fullKeyAccess());
  CHECK(p->findUser("u")->read_everything);

  c.namespaces[1].enforce_shape = false;
  c.outside_namespaces = OutsidePolicy::kRefuse;
  p = CompiledPolicy::build(c, nullptr);
  CHECK_FALSE(p->findUser("u")->canRead(Resolution::kNone));
  CHECK_FALSE(p->findUser("u")->fullKeyAccess());
  CHECK_FALSE(p->findUser("u")->read_everything);

  // "*" covers every namespace but not the outside.
  c.outside_namespaces = OutsidePolicy::kAllow;
  c.users[0].read = {"*"};
  p = CompiledPolicy::build(c, nullptr);
  CHECK_FALSE(p->findUser("u")->canRead(Resolution::kNone));
  CHECK(p->findUser("u")->canWrite(Resolution::kNone));
}

TEST_CASE("policy: build errors") {
  PolicyConfig c = platformConfig();
  c.namespaces[0].pattern = "session:{user_id:uid}";
  CHECK(buildError(c) == "namespace 'session': pattern: column 18: unknown placeholder type "
                         "'uid' (expected any, uuid or int)");

  c = platformConfig();
  c.namespaces[1].name = "session";
  CHECK(buildError(c) == "duplicate namespace name 'session'");

  c = platformConfig();
  c.namespaces[3].ttl_required = true;
  CHECK(buildError(c) == "namespace 'profile': ttl_required needs default_ttl_s > 0 (the TTL "
                         "given to keys created without one)");

  c = platformConfig();
  c.namespaces[4].default_ttl_s = 7200;
  CHECK(buildError(c) ==
        "namespace 'doc:processing': default_ttl_s (7200) exceeds max_ttl_s (3600)");

  c = platformConfig();
  c.namespaces[0].name = "sess*";
  CHECK(buildError(c) == "namespace 'sess*': name must not contain glob characters * ? [ ] \\");
  c.namespaces[0].name = "@outside";
  CHECK(buildError(c).find("must not start with '@'") != std::string::npos);
  c.namespaces[0].name = "";
  CHECK(buildError(c).find("must not be empty") != std::string::npos);

  c = platformConfig();
  c.users[0].read.push_back("sesion");
  CHECK(buildError(c) == "user 'auth-service': no namespace is named 'sesion'");

  c = platformConfig();
  c.users[0].read.push_back("nothing:*");  // a glob matching nothing is fine
  CHECK(CompiledPolicy::build(c, nullptr) != nullptr);

  c = platformConfig();
  c.users[0].password_hash = "plaintext";
  CHECK(buildError(c) == "user 'auth-service': password_hash is not \"sha256$<32 hex>$<64 hex>\"");
  c.users[0].password_hash.clear();
  CHECK(buildError(c) == "user 'auth-service': needs password_hash, nopass = true or cert_subject");

  c = platformConfig();
  c.users[2].name = "auth-service";
  CHECK(buildError(c) == "user 'auth-service': declared twice");

  c = platformConfig();
  c.users[0].name = "auth service";
  CHECK(buildError(c).find("only printable ASCII without spaces") != std::string::npos);
}

TEST_CASE("policy: counter ids stay with namespace names across reloads") {
  PolicyConfig c = platformConfig();
  auto first = CompiledPolicy::build(c, nullptr);
  REQUIRE(first);
  // A fresh policy numbers its namespaces in file order.
  for (uint32_t i = 0; i < first->namespaceCount(); ++i)
    CHECK(first->counterId(i) == i);
  CHECK(first->counterId(Resolution::kNone) == Resolution::kNone);
  CHECK(first->counterNames().size() == first->namespaceCount());

  // Reordered: the ids follow the names, not the positions.
  PolicyConfig swapped = c;
  std::swap(swapped.namespaces[0], swapped.namespaces[1]);
  auto second = CompiledPolicy::build(swapped, nullptr, first.get());
  REQUIRE(second);
  CHECK(second->ns(0).name == "blacklist:access");
  CHECK(second->counterId(0) == first->counterId(nsId(*first, "blacklist:access")));
  CHECK(second->counterId(1) == first->counterId(nsId(*first, "session")));
  CHECK(second->counterNames() == first->counterNames());

  // Removed and new names: a new name never takes an id a removed one had (its counts stay
  // under the old name); a name that comes back gets its old id again.
  PolicyConfig changed = swapped;
  changed.namespaces.erase(changed.namespaces.begin());  // blacklist:access removed
  changed.namespaces.push_back(makeNs("fresh", "fresh:{x}"));
  auto third = CompiledPolicy::build(changed, nullptr, second.get());
  REQUIRE(third);
  const uint32_t fresh = third->counterId(nsId(*third, "fresh"));
  CHECK(fresh == first->namespaceCount());
  CHECK(third->counterNames().size() == first->namespaceCount() + 1);
  CHECK(third->counterNames()[fresh] == "fresh");
  CHECK(third->counterId(nsId(*third, "session")) == first->counterId(nsId(*first, "session")));
  auto fourth = CompiledPolicy::build(c, nullptr, third.get());
  REQUIRE(fourth);
  CHECK(fourth->counterId(nsId(*fourth, "blacklist:access")) ==
        first->counterId(nsId(*first, "blacklist:access")));
  CHECK(fourth->counterNames().size() == first->namespaceCount() + 1);
}

TEST_CASE("policy: categories") {
  CHECK(parseCategory("read") == kCatRead);
  CHECK(parseCategory("all") == kCatAll);
  CHECK(parseCategory("dangerous") == kCatDangerous);
  CHECK(parseCategory("Read") == 0);
  CHECK(parseCategory("") == 0);
}

TEST_CASE("policy: every named dangerous command is flagged so in the command table") {
  const CommandTable& table = CommandTable::builtin();
  for (const char* name :
       {"flushall",     "flushdb",   "config",  "debug",   "shutdown", "save",    "bgsave",
        "bgrewriteaof", "replicaof", "slaveof", "cluster", "module",   "acl",     "migrate",
        "failover",     "sync",      "psync",   "restore", "keys",     "monitor", "swapdb"}) {
    const CommandInfo* cmd = table.find(name);
    INFO(name);
    REQUIRE(cmd != nullptr);
    CHECK((cmd->flags & kDangerous) != 0);
  }
}

}  // namespace
}  // namespace kw

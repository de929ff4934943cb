#include <doctest.h>

#include <string>
#include <vector>

#include "budget/doctor.h"

namespace kw {
namespace {

std::string bulk(std::string_view s) {
  return std::string("$").append(std::to_string(s.size())).append("\r\n").append(s).append("\r\n");
}
std::string array(std::initializer_list<std::string_view> items) {
  std::string out = std::string("*").append(std::to_string(items.size())).append("\r\n");
  for (std::string_view i : items)
    out += bulk(i);
  return out;
}

const std::string kConfigOk = array({"maxmemory", "2147483648", "maxmemory-policy", "allkeys-lru",
                                     "save", "3600 1 300 100 60 10000", "appendonly", "no", "bind",
                                     "127.0.0.1 -::1", "protected-mode", "yes"});
const std::string kAclProtected = array({"user default on #abc ~* &* +@all resetchannels"});
const std::string kAclNopass = array({"user default on nopass ~* &* +@all"});
const std::string kAclOff = array({"user default off nopass ~* &* +@all"});
const std::string kInfoNoKeys = bulk("# Commandstats\r\ncmdstat_get:calls=5,usec=1\r\n");

DoctorFacts healthy() {
  DoctorFacts f;
  f.upstream_host = "127.0.0.1";
  readConfigReply(kConfigOk, &f);
  readAclReply(kAclProtected, &f);
  readCommandStatsReply(kInfoNoKeys, &f);
  return f;
}

bool mentions(const std::vector<std::string>& lines, const std::string& what) {
  for (const std::string& l : lines)
    if (l.find(what) != std::string::npos)
      return true;
  return false;
}

}  // namespace

TEST_CASE("doctor: a healthy upstream has nothing to say") {
  const DoctorFacts f = healthy();
  CHECK(f.config_read);
  CHECK(f.maxmemory == 2147483648ull);
  CHECK(f.policy == "allkeys-lru");
  CHECK(f.acl_read);
  CHECK(f.default_user_on);
  CHECK_FALSE(f.default_user_nopass);
  CHECK(f.info_read);
  CHECK(f.keys_calls == 0);
  CHECK(diagnose(f).empty());
}

TEST_CASE("doctor: each documented problem is one plain line") {
  DoctorFacts f = healthy();
  f.maxmemory = 0;
  CHECK(mentions(diagnose(f), "maxmemory is not set"));
  f = healthy();
  f.policy = "noeviction";
  CHECK(mentions(diagnose(f), "maxmemory-policy is noeviction"));
  f = healthy();
  f.save = "";
  CHECK(mentions(diagnose(f), "persistence is off"));
  f.appendonly = "yes";
  CHECK(diagnose(f).empty());
  f = healthy();
  readCommandStatsReply(bulk("# Commandstats\r\ncmdstat_keys:calls=12,usec=3\r\nend"), &f);
  CHECK(f.keys_calls == 12);
  CHECK(mentions(diagnose(f), "clients have called KEYS 12 times"));
  f = healthy();
  f.budgets = {{"a", 1500ull << 20}, {"b", 1000ull << 20}};
  CHECK(mentions(diagnose(f), "the memory budgets add up to 2621440000 bytes"));
  f.budgets = {{"a", 1ull << 20}};
  CHECK(diagnose(f).empty());
}

TEST_CASE("doctor: a default user without a password matters beyond loopback") {
  DoctorFacts f = healthy();
  readAclReply(kAclNopass, &f);
  CHECK(f.default_user_nopass);
  CHECK(diagnose(f).empty());  // loopback bind, protected mode
  f.protected_mode = "no";
  f.bind = "* -::*";
  CHECK(mentions(diagnose(f), "no password"));
  f = healthy();
  readAclReply(kAclNopass, &f);
  f.upstream_host = "10.0.0.5";
  CHECK(mentions(diagnose(f), "keywarden reaches it at 10.0.0.5"));
  // Switched off: nobody logs in as default.
  f = healthy();
  readAclReply(kAclOff, &f);
  f.upstream_host = "10.0.0.5";
  CHECK(diagnose(f).empty());
}

TEST_CASE("doctor: refused commands are reported as unchecked, RESP3 maps are read") {
  DoctorFacts f;
  readConfigReply("-NOPERM this user has no permissions to run the 'config|get' command\r\n", &f);
  readAclReply("-NOPERM no acl\r\n", &f);
  readCommandStatsReply("$-1\r\n", &f);
  const std::vector<std::string> lines = diagnose(f);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].find("cannot read the upstream's configuration (CONFIG GET: NOPERM") == 0);
  CHECK(lines[1].find("cannot read the upstream's users (ACL LIST: NOPERM no acl)") == 0);
  CHECK(lines[2].find("cannot read the upstream's command statistics") == 0);
  DoctorFacts g;
  readConfigReply("%2\r\n" + bulk("maxmemory") + bulk("100") + bulk("maxmemory-policy") +
                      bulk("noeviction"),
                  &g);
  CHECK(g.config_read);
  CHECK(g.maxmemory == 100);
  CHECK(g.policy == "noeviction");
  readCommandStatsReply("=26\r\ntxt:cmdstat_keys:calls=3,u\r\n", &g);
  CHECK(g.keys_calls == 3);
}

TEST_CASE("doctor: loopback hosts") {
  CHECK(isLoopbackHost("127.0.0.1"));
  CHECK(isLoopbackHost("127.1.2.3"));
  CHECK(isLoopbackHost("::1"));
  CHECK(isLoopbackHost("localhost"));
  CHECK_FALSE(isLoopbackHost("10.0.0.1"));
  CHECK_FALSE(isLoopbackHost("redis.internal"));
  CHECK_FALSE(isLoopbackHost("0.0.0.0"));
}

}  // namespace kw

#include <string>
#include <string_view>

#include <doctest.h>

#include "sentinel/sentinel_replies.h"

namespace kw {
namespace {

// Captured from redis-server 7.0.15 and its sentinels, a group started by
// tests/integration/harness.js startSentinelGroup() (master name "kwmaster"). "3" marks a reply
// on a connection switched to RESP3 with HELLO 3.
constexpr std::string_view kAddr = "*2\r\n$9\r\n127.0.0.1\r\n$5\r\n34631\r\n";
constexpr std::string_view kAddrUnknown = "*-1\r\n";
constexpr std::string_view kAddrUnknown3 = "_\r\n";
constexpr std::string_view kNoAuth = "-NOAUTH Authentication required.\r\n";
constexpr std::string_view kSwitch =
    "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$40\r\nkwmaster 127.0.0.1 46773 127.0.0.1 "
    "34195\r\n";
constexpr std::string_view kSwitch3 =
    ">3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$40\r\nkwmaster 127.0.0.1 34631 127.0.0.1 "
    "38599\r\n";
constexpr std::string_view kSubscribed = "*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n";
constexpr std::string_view kSubscribed3 =
    ">3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n";
constexpr std::string_view kRoleMaster = "*3\r\n$6\r\nmaster\r\n:827\r\n*2\r\n*3\r\n$9\r\n127.0.0."
                                         "1\r\n$5\r\n42239\r\n$3\r\n425\r\n*3\r\n$"
                                         "9\r\n127.0.0.1\r\n$5\r\n38599\r\n$3\r\n425\r\n";
// The old master a few seconds after SENTINEL FAILOVER: still a master, with no replicas.
constexpr std::string_view kRoleStaleMaster = "*3\r\n$6\r\nmaster\r\n:1631\r\n*0\r\n";
constexpr std::string_view kRoleReplica =
    "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:34631\r\n$9\r\nconnected\r\n:827\r\n";
constexpr std::string_view kRoleReplicaConnecting =
    "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:45977\r\n$7\r\nconnect\r\n:-1\r\n";
constexpr std::string_view kRoleSentinel = "*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nkwmaster\r\n";
constexpr std::string_view kReadonly = "-READONLY You can't write against a read only replica.\r\n";
constexpr std::string_view kReadonlyScript =
    "-READONLY You can't write against a read only replica. script: "
    "8b2ae6dd76cda7fc3e27f97431ae27d7b08a221d, on @user_script:1.\r\n";
constexpr std::string_view kExecAbortReadonly =
    "-EXECABORT Transaction discarded because of: READONLY You can't write against a read only "
    "replica.\r\n";
// HELLO 3's map, the first frame a RESP3 connection reads.
constexpr std::string_view kHello3 =
    "%6\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$"
    "2\r\nid\r\n:10\r\n$4\r\nmode\r\n$8\r\nsentinel\r\n$7\r\nmodules\r\n*0\r\n";

using Addr = MasterAddrReply::Kind;
using Switch = SwitchMaster::Kind;
using Role = RoleReply::Role;

TEST_CASE("GET-MASTER-ADDR-BY-NAME: found, unknown, refused") {
  MasterAddrReply r = parseMasterAddrReply(kAddr);
  REQUIRE(r.kind == Addr::kFound);
  CHECK(r.addr.host == "127.0.0.1");
  CHECK(r.addr.port == 34631);

  CHECK(parseMasterAddrReply(kAddrUnknown).kind == Addr::kUnknown);
  CHECK(parseMasterAddrReply(kAddrUnknown3).kind == Addr::kUnknown);

  r = parseMasterAddrReply(kNoAuth);
  REQUIRE(r.kind == Addr::kError);
  CHECK(r.error == "NOAUTH Authentication required.");
  r = parseMasterAddrReply("!19\r\nERR something\r\nwent\r\n");
  REQUIRE(r.kind == Addr::kError);
  CHECK(r.error == "ERR something\r\nwent");

  // Simple strings and an integer port are the same answer; a host name is taken as it is.
  r = parseMasterAddrReply("*2\r\n+redis-a.internal\r\n:6380\r\n");
  REQUIRE(r.kind == Addr::kFound);
  CHECK(r.addr.host == "redis-a.internal");
  CHECK(r.addr.port == 6380);
}

TEST_CASE("GET-MASTER-ADDR-BY-NAME: anything else is malformed, never half-read") {
  for (std::string_view bad : {
           std::string_view(""),
           std::string_view("+OK\r\n"),
           std::string_view("*1\r\n$9\r\n127.0.0.1\r\n"),
           std::string_view("*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n$1\r\nx\r\n"),
           std::string_view("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\nEXTRA"),
           std::string_view("*2\r\n$9\r\n127.0.0.1\r\n$1\r\n0\r\n"),
           std::string_view("*2\r\n$9\r\n127.0.0.1\r\n$5\r\n65536\r\n"),
           std::string_view("*2\r\n$9\r\n127.0.0.1\r\n$2\r\n-1\r\n"),
           std::string_view("*2\r\n$9\r\n127.0.0.1\r\n$3\r\n6x9\r\n"),
           std::string_view("*2\r\n$0\r\n\r\n$4\r\n6379\r\n"),
           std::string_view("*2\r\n$5\r\n1 2 3\r\n$4\r\n6379\r\n"),
           std::string_view("*2\r\n$5\r\n12\r\n3\r\n$4\r\n6379\r\n"),
           std::string_view("*2\r\n$9\r\n127.0.0.1\r\n"),
           std::string_view("*2\r\n$99\r\n127.0.0.1\r\n$4\r\n6379\r\n"),
           std::string_view("*2\r\n$-1\r\n$4\r\n6379\r\n"),
           std::string_view("*2\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n$4\r\n6379\r\n"),
           std::string_view("-ERR no CRLF"),
           std::string_view("-ERR x\r\ntrailing"),
           std::string_view("!5\r\nERR\r\n"),
           std::string_view("*-1\r\n*-1\r\n"),
       }) {
    CAPTURE(bad);
    const MasterAddrReply r = parseMasterAddrReply(bad);
    CHECK(r.kind == Addr::kMalformed);
    CHECK(r.error.empty());
    CHECK(r.addr.host.empty());
    CHECK(r.addr.port == 0);
  }
}

TEST_CASE("+switch-master: RESP2 message and RESP3 push, filtered by master name") {
  SwitchMaster s = parseSwitchMaster(kSwitch, "kwmaster");
  REQUIRE(s.kind == Switch::kSwitch);
  CHECK(s.from.host == "127.0.0.1");
  CHECK(s.from.port == 46773);
  CHECK(s.to.host == "127.0.0.1");
  CHECK(s.to.port == 34195);

  s = parseSwitchMaster(kSwitch3, "kwmaster");
  REQUIRE(s.kind == Switch::kSwitch);
  CHECK(s.from.port == 34631);
  CHECK(s.to.port == 38599);

  CHECK(parseSwitchMaster(kSwitch, "other").kind == Switch::kOtherMaster);
  CHECK(parseSwitchMaster(kSwitch, "kwmaste").kind == Switch::kOtherMaster);
  CHECK(parseSwitchMaster(kSwitch, "").kind == Switch::kOtherMaster);

  // The name is everything before the last four fields.
  const std::string spaced =
      "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$37\r\nmy master 10.0.0.1 "
      "6379 10.0.0.2 6380\r\n";
  s = parseSwitchMaster(spaced, "my master");
  REQUIRE(s.kind == Switch::kSwitch);
  CHECK(s.from.host == "10.0.0.1");
  CHECK(s.to.host == "10.0.0.2");
  CHECK(s.to.port == 6380);
  CHECK(parseSwitchMaster(spaced, "master").kind == Switch::kOtherMaster);
}

TEST_CASE("+switch-master: other frames on the subscription are not switches") {
  for (std::string_view other : {
           kSubscribed,
           kSubscribed3,
           kHello3,
           std::string_view("*3\r\n$7\r\nmessage\r\n$11\r\n+sdown-hook\r\n$3\r\nabc\r\n"),
           std::string_view(
               "*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$14\r\n+switch-master\r\n$9\r\nm 1 1 1 1\r\n"),
           std::string_view("*2\r\n$4\r\npong\r\n$0\r\n\r\n"),
           std::string_view("+OK\r\n"),
           kNoAuth,
           std::string_view(""),
           std::string_view("*3\r\n:1\r\n:2\r\n:3\r\n"),
       }) {
    CAPTURE(other);
    CHECK(parseSwitchMaster(other, "kwmaster").kind == Switch::kNotSwitch);
  }
}

TEST_CASE("+switch-master: a message whose payload does not parse is malformed") {
  const std::string head = "*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n";
  auto message = [&](std::string_view payload) {
    return head + "$" + std::to_string(payload.size()) + "\r\n" + std::string(payload) + "\r\n";
  };
  for (std::string_view payload : {
           std::string_view(""),
           std::string_view("kwmaster"),
           std::string_view("kwmaster 127.0.0.1 1 127.0.0.1"),
           std::string_view("127.0.0.1 1 127.0.0.1 2"),
           std::string_view(" 127.0.0.1 1 127.0.0.1 2"),
           std::string_view("kwmaster 127.0.0.1 1 127.0.0.1 0"),
           std::string_view("kwmaster 127.0.0.1 1 127.0.0.1 70000"),
           std::string_view("kwmaster 127.0.0.1 x 127.0.0.1 2"),
           std::string_view("kwmaster 127.0.0.1 1  2"),
           std::string_view("kwmaster 127.0.0.1 1 127.0.0.1 2 "),
           std::string_view("kwmaster 127.0.0.1\n 1 127.0.0.1 2"),
       }) {
    CAPTURE(payload);
    const SwitchMaster s = parseSwitchMaster(message(payload), "kwmaster");
    CHECK(s.kind == Switch::kMalformed);
    CHECK(s.to.port == 0);
    CHECK(s.from.port == 0);
  }
  // Not a bulk payload, trailing bytes, a short frame.
  CHECK(parseSwitchMaster(head + ":5\r\n", "kwmaster").kind == Switch::kMalformed);
  CHECK(parseSwitchMaster(std::string(kSwitch) + "x", "kwmaster").kind == Switch::kMalformed);
  CHECK(parseSwitchMaster(kSwitch.substr(0, kSwitch.size() - 3), "kwmaster").kind ==
        Switch::kMalformed);
}

TEST_CASE("ROLE: master, replica, sentinel") {
  CHECK(parseRoleReply(kRoleMaster).role == Role::kMaster);
  CHECK(parseRoleReply(kRoleStaleMaster).role == Role::kMaster);
  CHECK(parseRoleReply(kRoleSentinel).role == Role::kSentinel);

  RoleReply r = parseRoleReply(kRoleReplica);
  REQUIRE(r.role == Role::kReplica);
  CHECK(r.master.host == "127.0.0.1");
  CHECK(r.master.port == 34631);
  CHECK(r.state == "connected");
  r = parseRoleReply(kRoleReplicaConnecting);
  REQUIRE(r.role == Role::kReplica);
  CHECK(r.master.port == 45977);
  CHECK(r.state == "connect");
  // A later Redis saying "replica", or appending fields, still parses.
  r = parseRoleReply("*6\r\n$7\r\nreplica\r\n$2\r\nh1\r\n:7000\r\n$4\r\nsync\r\n:0\r\n:9\r\n");
  REQUIRE(r.role == Role::kReplica);
  CHECK(r.master.host == "h1");

  r = parseRoleReply(kNoAuth);
  REQUIRE(r.role == Role::kError);
  CHECK(r.error == "NOAUTH Authentication required.");
}

TEST_CASE("ROLE: other shapes are malformed") {
  for (std::string_view bad : {
           std::string_view(""),
           std::string_view("+master\r\n"),
           std::string_view("$6\r\nmaster\r\n"),
           std::string_view("*0\r\n"),
           std::string_view("*-1\r\n"),
           std::string_view("_\r\n"),
           std::string_view("*3\r\n$7\r\nprimary\r\n:1\r\n*0\r\n"),
           std::string_view("*3\r\n:1\r\n:1\r\n*0\r\n"),
           std::string_view("*3\r\n$6\r\nMASTER\r\n:1\r\n*0\r\n"),
           std::string_view("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:0\r\n$1\r\nx\r\n:1\r\n"),
           std::string_view("*5\r\n$5\r\nslave\r\n$0\r\n\r\n:1\r\n$1\r\nx\r\n:1\r\n"),
           std::string_view("*3\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n"),
           std::string_view("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n"),
           std::string_view("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n:7\r\n:1\r\n"),
           std::string_view("-ERR x\r\ntrailing"),
           std::string_view("!9\r\nERR\r\n"),
       }) {
    CAPTURE(bad);
    const RoleReply r = parseRoleReply(bad);
    CHECK(r.role == Role::kMalformed);
    CHECK(r.error.empty());
    CHECK(r.master.host.empty());
    CHECK(r.state.empty());
  }
}

TEST_CASE("READONLY errors, plain, from a script, from EXEC, as a RESP3 blob") {
  CHECK(isReadonlyError(kReadonly));
  CHECK(isReadonlyError(kReadonlyScript));
  CHECK(isReadonlyError(kExecAbortReadonly));
  CHECK(isReadonlyError("-READONLY\r\n"));
  CHECK(isReadonlyError("!15\r\nREADONLY x\r\ny z\r\n"));

  for (std::string_view no : {
           kNoAuth,
           kRoleReplica,
           std::string_view("+READONLY\r\n"),
           std::string_view("$8\r\nREADONLY\r\n"),
           std::string_view("-READONLYX you\r\n"),
           std::string_view("-ERR READONLY\r\n"),
           std::string_view("-readonly You can't write\r\n"),
           std::string_view("-EXECABORT Transaction discarded because of previous errors.\r\n"),
           std::string_view("-EXECABORT because of: READONLYX\r\n"),
           std::string_view("-READONLY no CRLF"),
           std::string_view("-READONLY x\r\n+OK\r\n"),
           std::string_view("*1\r\n-READONLY You can't write against a read only replica.\r\n"),
           std::string_view(""),
       }) {
    CAPTURE(no);
    CHECK_FALSE(isReadonlyError(no));
  }
}

}  // namespace
}  // namespace kw

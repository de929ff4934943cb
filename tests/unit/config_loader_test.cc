#include <arpa/inet.h>
#include <cstdio>
#include <netinet/in.h>
#include <string>
#include <string_view>
#include <unistd.h>

#include <doctest.h>

#include "common/config_loader.h"
#include "common/net_address.h"
#include "policy/password.h"

namespace kw {
namespace {

// Parses text that is expected to fail and returns the error message.
std::string parseError(const std::string& text) {
  Config config;
  config.server.workers = 77;  // a failed parse must leave *out untouched
  std::string error;
  CHECK_FALSE(parseConfigText(text, "conf/keywarden.toml", &config, &error));
  CHECK(config.server.workers == 77);
  return error;
}

Config parseOk(const std::string& text) {
  Config config;
  std::string error;
  bool ok = parseConfigText(text, "t.toml", &config, &error);
  INFO(error);
  CHECK(ok);
  CHECK(error.empty());
  return config;
}

TEST_CASE("config: empty text gives the struct defaults") {
  Config c = parseOk("");
  Config d;
  CHECK(c.source_path.empty());
  CHECK(c.server.listen.host == d.server.listen.host);
  CHECK(c.server.listen.port == 6380);
  CHECK(c.server.workers == 0);
  CHECK(c.server.shutdown_deadline_ms == 5000);
  CHECK(c.server.log_level == LogLevel::kInfo);
  CHECK(c.upstream.address.host == "127.0.0.1");
  CHECK(c.upstream.address.port == 6379);
  CHECK(c.upstream.username.empty());
  CHECK(c.upstream.password.empty());
  CHECK(c.upstream.connections == 1);
  CHECK(c.limits.max_clients == 10000);
  CHECK(c.limits.max_bulk_len == d.limits.max_bulk_len);
  CHECK(c.metrics.enabled);
  CHECK(c.metrics.listen.port == 9121);
}

TEST_CASE("config: every key") {
  Config c = parseOk(R"(
[server]
listen = "0.0.0.0:7000"
workers = 3
shutdown_deadline_ms = 1234
log_level = "debug"
[upstream]
address = "[::1]:7001"
username = "app"
password = "s3cret \"x\""
db = 5
connections = 4
connect_timeout_ms = 11
request_timeout_ms = 12
reconnect_backoff_min_ms = 13
reconnect_backoff_max_ms = 14
pinned_pool_size = 0
[limits]
max_clients = 20
idle_timeout_s = 30
max_reply_buffer_bytes = 1000
max_query_buffer_bytes = 2000
max_bulk_len = 3000
max_array_len = 4000
max_inline_len = 5000
preauth_max_bulk_len = 600
preauth_max_array_len = 7
[metrics]
enabled = false
listen = "localhost:0"
)");
  CHECK(c.server.listen.host == "0.0.0.0");
  CHECK(c.server.listen.port == 7000);
  CHECK(c.server.workers == 3);
  CHECK(c.server.shutdown_deadline_ms == 1234);
  CHECK(c.server.log_level == LogLevel::kDebug);
  CHECK(c.upstream.address.host == "::1");
  CHECK(c.upstream.address.port == 7001);
  CHECK(c.upstream.username == "app");
  CHECK(c.upstream.password == "s3cret \"x\"");
  CHECK(c.upstream.db == 5);
  CHECK(c.upstream.connections == 4);
  CHECK(c.upstream.connect_timeout_ms == 11);
  CHECK(c.upstream.request_timeout_ms == 12);
  CHECK(c.upstream.reconnect_backoff_min_ms == 13);
  CHECK(c.upstream.reconnect_backoff_max_ms == 14);
  CHECK(c.upstream.pinned_pool_size == 0);
  CHECK(c.limits.max_clients == 20);
  CHECK(c.limits.idle_timeout_s == 30);
  CHECK(c.limits.max_reply_buffer_bytes == 1000);
  CHECK(c.limits.max_query_buffer_bytes == 2000);
  CHECK(c.limits.max_bulk_len == 3000);
  CHECK(c.limits.max_array_len == 4000);
  CHECK(c.limits.max_inline_len == 5000);
  CHECK(c.limits.preauth_max_bulk_len == 600);
  CHECK(c.limits.preauth_max_array_len == 7);
  CHECK_FALSE(c.metrics.enabled);
  CHECK(c.metrics.listen.host == "localhost");
  CHECK(c.metrics.listen.port == 0);
}

TEST_CASE("config: dotted keys and inline tables are plain TOML") {
  Config c = parseOk("server.workers = 2\nupstream = { db = 3 }\n");
  CHECK(c.server.workers == 2);
  CHECK(c.upstream.db == 3);
}

TEST_CASE("config: integers above 32 bits fit 64-bit fields") {
  Config c = parseOk("[limits]\nmax_query_buffer_bytes = 8589934592\n");
  CHECK(c.limits.max_query_buffer_bytes == 8589934592ull);
}

TEST_CASE("config: wrong type") {
  CHECK(parseError("[upstream]\nconnections = \"abc\"\n") ==
        "conf/keywarden.toml:2: upstream.connections: expected an integer in 1..1024, got \"abc\"");
  CHECK(parseError("[server]\n\nworkers = 1.5\n") ==
        "conf/keywarden.toml:3: server.workers: expected an integer in 0..1024, got 1.5");
  CHECK(parseError("[metrics]\nenabled = \"yes\"\n") ==
        "conf/keywarden.toml:2: metrics.enabled: expected true or false, got \"yes\"");
  CHECK(parseError("[upstream]\npassword = 123\n") ==
        "conf/keywarden.toml:2: upstream.password: expected a string, got 123");
  CHECK(parseError("[upstream]\naddress = 6379\n") ==
        "conf/keywarden.toml:2: upstream.address: expected a \"HOST:PORT\" or \"unix:/PATH\" "
        "string, got 6379");
  CHECK(parseError("server = 5\n") ==
        "conf/keywarden.toml:1: server: expected a table [server], got 5");
  CHECK(parseError("[[limits]]\nmax_clients = 1\n") ==
        "conf/keywarden.toml:1: limits: expected a table [limits], got an array");
}

TEST_CASE("config: out of range numbers") {
  CHECK(parseError("[server]\nworkers = 1025\n") ==
        "conf/keywarden.toml:2: server.workers: expected an integer in 0..1024, got 1025");
  CHECK(parseError("[upstream]\nconnect_timeout_ms = 0\n") ==
        "conf/keywarden.toml:2: upstream.connect_timeout_ms: expected an integer in "
        "1..4294967295, got 0");
  CHECK(parseError("[upstream]\nrequest_timeout_ms = -5\n") ==
        "conf/keywarden.toml:2: upstream.request_timeout_ms: expected an integer in "
        "1..4294967295, got -5");
  CHECK(parseError("[upstream]\ndb = -1\n") ==
        "conf/keywarden.toml:2: upstream.db: expected an integer in 0..2147483647, got -1");
  CHECK(parseError("[limits]\nmax_array_len = 0\n") ==
        "conf/keywarden.toml:2: limits.max_array_len: expected an integer in 1..2147483647, "
        "got 0");
  CHECK(parseError("[server]\nshutdown_deadline_ms = 4294967296\n") ==
        "conf/keywarden.toml:2: server.shutdown_deadline_ms: expected an integer in "
        "0..4294967295, got 4294967296");
}

TEST_CASE("config: backoff max below min") {
  CHECK(parseError("[upstream]\nreconnect_backoff_min_ms = 100\nreconnect_backoff_max_ms = 10\n") ==
        "conf/keywarden.toml:3: upstream.reconnect_backoff_max_ms: must be >= "
        "reconnect_backoff_min_ms (100), got 10");
}

TEST_CASE("config: bad HOST:PORT") {
  CHECK(parseError("[upstream]\naddress = \"redis\"\n") ==
        "conf/keywarden.toml:2: upstream.address: expected HOST:PORT, [IPV6]:PORT or unix:/PATH "
        "(missing ':PORT'), got \"redis\"");
  CHECK(parseError("[upstream]\naddress = \"redis:0\"\n") ==
        "conf/keywarden.toml:2: upstream.address: expected HOST:PORT, [IPV6]:PORT or unix:/PATH "
        "(port must be in 1..65535), got \"redis:0\"");
  CHECK(parseError("[server]\nlisten = \"127.0.0.1:65536\"\n") ==
        "conf/keywarden.toml:2: server.listen: expected HOST:PORT, [IPV6]:PORT or unix:/PATH (port "
        "must be in 0..65535), got \"127.0.0.1:65536\"");
  CHECK(parseError("[metrics]\nlisten = \"::1:9121\"\n") ==
        "conf/keywarden.toml:2: metrics.listen: expected HOST:PORT or [IPV6]:PORT (IPv6 "
        "addresses need brackets, e.g. [::1]:6379), got \"::1:9121\"");
}

TEST_CASE("config: bad log level") {
  CHECK(parseError("[server]\nlog_level = \"verbose\"\n") ==
        "conf/keywarden.toml:2: server.log_level: expected one of debug|info|warn|error, got "
        "\"verbose\"");
  CHECK(parseError("[server]\nlog_level = \"INFO\"\n").find("expected one of") !=
        std::string::npos);
}

TEST_CASE("config: unknown sections and keys") {
  CHECK(parseError("[server]\nlisten = \"a:1\"\nworker = 4\n") ==
        "conf/keywarden.toml:3: server.worker: unknown key");
  CHECK(parseError("\n[srever]\nworkers = 4\n") ==
        "conf/keywarden.toml:2: srever: unknown section");
  CHECK(parseError("workers = 4\n") == "conf/keywarden.toml:1: workers: unknown key");
  CHECK(parseError("[server]\n\"a\\nb\" = 1\n") ==
        "conf/keywarden.toml:2: server.\"a\\u000ab\": unknown key");
  CHECK(parseError("[server.extra]\nx = 1\n") ==
        "conf/keywarden.toml:1: server.extra: unknown section");
}

TEST_CASE("config: all errors are reported, in file order") {
  CHECK(parseError("[upstream]\ndb = \"x\"\n[server]\nworkers = -1\nbogus = 1\n") ==
        "conf/keywarden.toml:2: upstream.db: expected an integer in 0..2147483647, got \"x\"\n"
        "conf/keywarden.toml:4: server.workers: expected an integer in 0..1024, got -1\n"
        "conf/keywarden.toml:5: server.bogus: unknown key");
}

TEST_CASE("config: syntax errors carry the line") {
  std::string e = parseError("[server]\nworkers = 1\nlisten = \n");
  CHECK(e.rfind("conf/keywarden.toml:3: syntax error in ", 0) == 0);
  // toml++ quotes the offending character, here a newline; the message must stay one line.
  e = parseError("[limits]\nmax_bulk_len =n\n");
  CHECK(e.rfind("conf/keywarden.toml:2: syntax error in ", 0) == 0);
  CHECK(e.find('\n') == std::string::npos);
  e = parseError("[server]\n[server]\n");
  CHECK(e.rfind("conf/keywarden.toml:2: syntax error in ", 0) == 0);
  e = parseError(std::string("[server]\nworkers = 1\x00\n", 22));
  CHECK(e.rfind("conf/keywarden.toml:2: syntax error in ", 0) == 0);
}

TEST_CASE("config: long values are shortened in messages") {
  std::string e = parseError("[upstream]\naddress = \"" + std::string(500, 'a') + "\"\n");
  CHECK(e.size() < 250);
  CHECK(e.find("...") != std::string::npos);
}

TEST_CASE("config: loadConfigFile") {
  char path[] = "/tmp/kw_config_test_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  std::string text = "[upstream]\n# comment\naddress = \"localhost:6400\"\n";
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);

  Config c;
  std::string error;
  CHECK(loadConfigFile(path, &c, &error));
  CHECK(c.source_path == path);
  CHECK(c.upstream.address.host == "localhost");
  CHECK(c.upstream.address.port == 6400);

  FILE* f = fopen(path, "w");
  fputs("[upstream]\n\naddress = \"x\"\n", f);
  fclose(f);
  CHECK_FALSE(loadConfigFile(path, &c, &error));
  CHECK(error == std::string(path) + ":3: upstream.address: expected HOST:PORT, [IPV6]:PORT or "
                                     "unix:/PATH (missing ':PORT'), got \"x\"");
  unlink(path);

  CHECK_FALSE(loadConfigFile("/nonexistent/kw.toml", &c, &error));
  CHECK(error == "/nonexistent/kw.toml: cannot open: No such file or directory");
  CHECK_FALSE(loadConfigFile("/tmp", &c, &error));
  CHECK(error == "/tmp: cannot read: Is a directory");
}

TEST_CASE("config: addresses resolve at load, as startup needs them to") {
  const ConfigParseOptions resolve{.resolve_addresses = true};
  Config c;
  std::string error;
  // Host names are fine where they resolve: localhost listens on its loopback address.
  REQUIRE_MESSAGE(parseConfigText("[server]\nlisten = \"localhost:6391\"\n[metrics]\nlisten = "
                                  "\"localhost:0\"\n[upstream]\naddress = \"localhost:6379\"\n",
                                  "kw.toml", &c, &error, resolve),
                  error);
  CHECK(c.server.listen.host == "localhost");
  CHECK(c.server.listen.port == 6391);

  // A name that does not resolve is refused with its line, not later at startup.
  CHECK_FALSE(parseConfigText("[server]\nworkers = 1\nlisten = \"no-such-host.invalid:6391\"\n",
                              "kw.toml", &c, &error, resolve));
  CHECK(error.rfind("kw.toml:3: server.listen: cannot resolve host \"no-such-host.invalid\" (",
                    0) == 0);
  CHECK(error.find("got \"no-such-host.invalid:6391\"") != std::string::npos);
  CHECK_FALSE(parseConfigText("[upstream]\naddress = \"no-such-host.invalid:6379\"\n", "kw.toml",
                              &c, &error, resolve));
  CHECK(error.rfind("kw.toml:2: upstream.address: cannot resolve host", 0) == 0);
  CHECK_FALSE(parseConfigText("[metrics]\nlisten = \"no-such-host.invalid:1\"\n", "kw.toml", &c,
                              &error, resolve));
  CHECK(error.rfind("kw.toml:2: metrics.listen: cannot resolve host", 0) == 0);
  // An endpoint that is off is not bound, so its address need not resolve.
  CHECK(parseConfigText("[metrics]\nenabled = false\nlisten = \"no-such-host.invalid:1\"\n",
                        "kw.toml", &c, &error, resolve));
  // Without resolving (parsing alone), any well-formed name is taken.
  CHECK(
      parseConfigText("[server]\nlisten = \"no-such-host.invalid:6391\"\n", "kw.toml", &c, &error));
}

TEST_CASE("net address: numeric as given, names resolved with IPv4 preferred") {
  SocketAddress a;
  std::string error;
  REQUIRE(resolveHostPort({"127.0.0.1", 6380}, AddressUse::kListen, &a, &error));
  CHECK(a.family() == AF_INET);
  CHECK(a.ip() == "127.0.0.1");
  REQUIRE(resolveHostPort({"::1", 6380}, AddressUse::kConnect, &a, &error));
  CHECK(a.family() == AF_INET6);
  CHECK(a.ip() == "::1");
  CHECK(a.length == sizeof(sockaddr_in6));
  REQUIRE(resolveHostPort({"localhost", 6391}, AddressUse::kListen, &a, &error));
  CHECK(a.family() == AF_INET);  // 127.0.0.1 even where ::1 is listed first
  CHECK(a.ip() == "127.0.0.1");
  CHECK(ntohs(reinterpret_cast<const sockaddr_in*>(a.get())->sin_port) == 6391);
  CHECK_FALSE(resolveHostPort({"no-such-host.invalid", 1}, AddressUse::kConnect, &a, &error));
  CHECK_FALSE(error.empty());
}

TEST_CASE("config: the shipped conf/keywarden.toml loads and matches the defaults") {
  Config c;
  std::string error;
  // __FILE__ is relative to the build directory, where the tests run.
  std::string root = __FILE__;
  root.erase(root.size() - std::string_view("tests/unit/config_loader_test.cc").size());
  bool ok = loadConfigFile(root + "conf/keywarden.toml", &c, &error);
  INFO(error);
  REQUIRE(ok);
  Config d;
  CHECK(c.server.listen.port == 6380);
  CHECK(c.upstream.address.port == 6379);
  CHECK(c.metrics.listen.port == 9121);
  CHECK(c.server.workers == d.server.workers);
  CHECK(c.upstream.connections == d.upstream.connections);
  CHECK(c.limits.max_query_buffer_bytes == d.limits.max_query_buffer_bytes);
  CHECK(c.limits.preauth_max_array_len == d.limits.preauth_max_array_len);
}

// ---- [policy], [[namespaces]], [[users]] ----

const std::string kHash = hashPassword("pw");

TEST_CASE("config: policy sections") {
  Config c = parseOk(R"(
[policy]
outside_namespaces = "refuse"
default_user = "auth-service"
auth_max_failures = 3
auth_failure_window_s = 10
auth_block_s = 20

[[namespaces]]
name = "session"
pattern = "session:{user_id:uuid}:{session_id}"
default_ttl_s = 2592000
max_ttl_s = 2592000
ttl_required = true
enforce_shape = true
over_max_ttl = "clamp"

[[namespaces]]
name = "doc:processing"
pattern = "doc:processing:{doc_id}"
default_ttl_s = 600
max_ttl_s = 3600
over_max_ttl = "refuse"
enforce_shape = false

[[users]]
name = "auth-service"
password_hash = ")" + kHash +
                     R"("
read = ["session", "doc:*", "@outside"]
write = ["session"]
commands = ["read", "write", "keyspace"]
channels = ["*"]

[[users]]
name = "ops"
nopass = true
admin = true
enabled = false
)");
  const PolicyConfig& p = c.policy;
  CHECK(p.outside_namespaces == OutsidePolicy::kRefuse);
  CHECK(p.default_user == "auth-service");
  CHECK(p.auth_max_failures == 3);
  CHECK(p.auth_failure_window_s == 10);
  CHECK(p.auth_block_s == 20);
  REQUIRE(p.namespaces.size() == 2);
  CHECK(p.namespaces[0].name == "session");
  CHECK(p.namespaces[0].pattern == "session:{user_id:uuid}:{session_id}");
  CHECK(p.namespaces[0].default_ttl_s == 2592000);
  CHECK(p.namespaces[0].max_ttl_s == 2592000);
  CHECK(p.namespaces[0].ttl_required);
  CHECK(p.namespaces[0].enforce_shape);
  CHECK(p.namespaces[0].over_max_ttl == OverMaxTtl::kClamp);
  CHECK(p.namespaces[0].line == 9);
  CHECK(p.namespaces[1].over_max_ttl == OverMaxTtl::kRefuse);
  CHECK_FALSE(p.namespaces[1].enforce_shape);
  CHECK_FALSE(p.namespaces[1].ttl_required);
  REQUIRE(p.users.size() == 2);
  CHECK(p.users[0].name == "auth-service");
  CHECK(p.users[0].password_hash == kHash);
  CHECK_FALSE(p.users[0].nopass);
  CHECK(p.users[0].enabled);
  CHECK_FALSE(p.users[0].admin);
  CHECK(p.users[0].read == std::vector<std::string>{"session", "doc:*", "@outside"});
  CHECK(p.users[0].write == std::vector<std::string>{"session"});
  CHECK(p.users[0].categories == (kCatRead | kCatWrite | kCatKeyspace));
  CHECK(p.users[0].channels == std::vector<std::string>{"*"});
  CHECK(p.users[0].line == 26);
  CHECK(p.users[1].nopass);
  CHECK(p.users[1].admin);
  CHECK_FALSE(p.users[1].enabled);
  CHECK(p.users[1].categories == 0);
}

TEST_CASE("config: policy defaults") {
  Config c = parseOk("");
  CHECK(c.policy.namespaces.empty());
  CHECK(c.policy.users.empty());
  CHECK(c.policy.default_user == "default");  // the implicit user
  CHECK(c.policy.outside_namespaces == OutsidePolicy::kAllow);
  // Users declared, none named "default": clients must AUTH.
  c = parseOk("[[users]]\nname = \"a\"\nnopass = true\n");
  CHECK(c.policy.default_user.empty());
  c = parseOk("[[users]]\nname = \"default\"\nnopass = true\n");
  CHECK(c.policy.default_user == "default");
  c = parseOk("[policy]\ndefault_user = \"\"\n");
  CHECK(c.policy.default_user.empty());
  c = parseOk("[[users]]\nname = \"x\"\ncommands = [\"all\"]\nnopass = true\n");
  CHECK(c.policy.users[0].categories == kCatAll);
}

TEST_CASE("config: namespace errors") {
  CHECK(parseError("[[namespaces]]\nname = \"s\"\npattern = \"s:{id:uid}\"\n") ==
        "conf/keywarden.toml:3: namespaces[0].pattern: column 7: unknown placeholder type 'uid' "
        "(expected any, uuid or int), got \"s:{id:uid}\"");
  CHECK(parseError("[[namespaces]]\nname = \"s\"\npattern = \"s:{id}\"\nttl_required = true\n") ==
        "conf/keywarden.toml:4: namespaces[0].ttl_required: needs default_ttl_s > 0 (the TTL "
        "given to keys created without one)");
  CHECK(parseError("[[namespaces]]\nname = \"s\"\npattern = \"s:{id}\"\ndefault_ttl_s = 10\n"
                   "max_ttl_s = 5\n") ==
        "conf/keywarden.toml:4: namespaces[0].default_ttl_s: must be <= max_ttl_s (5), got 10");
  CHECK(parseError("[[namespaces]]\nname = \"s\"\npattern = \"s:{id}\"\n"
                   "[[namespaces]]\nname = \"s\"\npattern = \"t:{id}\"\n") ==
        "conf/keywarden.toml:5: namespaces[1].name: duplicate namespace name 's' (first "
        "declared on line 1)");
  CHECK(parseError("[[namespaces]]\nname = \"s\"\npattern = \"s:{id}\"\n"
                   "[[namespaces]]\nname = \"t\"\npattern = \"s:{id}\"\n") ==
        "conf/keywarden.toml:6: namespaces[1].pattern: same pattern as namespace 's' (line 1)");
  CHECK(parseError("[[namespaces]]\npattern = \"s:{id}\"\n") ==
        "conf/keywarden.toml:1: namespaces[0].name: required");
  CHECK(parseError("[[namespaces]]\nname = \"s\"\n") ==
        "conf/keywarden.toml:1: namespaces[0].pattern: required");
  CHECK(parseError("[[namespaces]]\nname = \"s*\"\npattern = \"s:{id}\"\n") ==
        "conf/keywarden.toml:2: namespaces[0].name: must not contain glob characters * ? [ ] \\");
  CHECK(
      parseError("[[namespaces]]\nname = \"s\"\npattern = \"s:{id}\"\nover_max_ttl = \"cap\"\n") ==
      "conf/keywarden.toml:4: namespaces[0].over_max_ttl: expected \"clamp\" or \"refuse\", got "
      "\"cap\"");
  CHECK(parseError("[[namespaces]]\nname = \"s\"\npattern = \"s:{id}\"\nmax_ttl_s = -1\n") ==
        "conf/keywarden.toml:4: namespaces[0].max_ttl_s: expected an integer in 0..3153600000, "
        "got -1");
  CHECK(parseError("[[namespaces]]\nname = \"s\"\npattern = \"s:{id}\"\nttl = 5\n") ==
        "conf/keywarden.toml:4: namespaces[0].ttl: unknown key");
  CHECK(parseError("namespaces = 5\n") ==
        "conf/keywarden.toml:1: namespaces: expected an array of tables [[namespaces]], got 5");
}

TEST_CASE("config: user errors") {
  const std::string ns = "[[namespaces]]\nname = \"session\"\npattern = \"session:{id}\"\n";
  CHECK(parseError(ns + "[[users]]\nname = \"a\"\nnopass = true\nread = [\"sesion\"]\n") ==
        "conf/keywarden.toml:7: users[0].read: no namespace is named 'sesion'");
  CHECK(parseError(ns + "[[users]]\nname = \"a\"\nnopass = true\nwrite = [\"session\", 5]\n") ==
        "conf/keywarden.toml:7: users[0].write: expected an array of strings, got 5");
  CHECK(parseError(ns + "[[users]]\nname = \"a\"\nnopass = true\nread = \"session\"\n") ==
        "conf/keywarden.toml:7: users[0].read: expected an array of strings, got \"session\"");
  // Globs may match nothing.
  parseOk(ns + "[[users]]\nname = \"a\"\nnopass = true\nread = [\"x:*\", \"@outside\"]\n");
  CHECK(parseError(ns + "[[users]]\nname = \"a\"\nnopass = true\ncommands = [\"get\"]\n") ==
        "conf/keywarden.toml:7: users[0].commands: unknown command category \"get\" (expected "
        "read, write, keyspace, pubsub, scripting, admin, dangerous or all)");
  CHECK(parseError("[[users]]\nname = \"a\"\n") ==
        "conf/keywarden.toml:1: users[0].password_hash: required unless nopass = true or "
        "cert_subject is set");
  CHECK(parseError("[[users]]\nname = \"a\"\npassword_hash = \"hunter2\"\n") ==
        "conf/keywarden.toml:3: users[0].password_hash: expected \"sha256$<32 hex digits>$<64 "
        "hex digits>\" (make one with tools/hash-password)");
  CHECK(parseError("[[users]]\nname = \"a\"\npassword_hash = \"" + kHash + "\"\nnopass = true\n") ==
        "conf/keywarden.toml:4: users[0].nopass: cannot be combined with password_hash");
  CHECK(parseError("[[users]]\nname = \"a\"\nnopass = true\n[[users]]\nname = \"a\"\n"
                   "nopass = true\n") ==
        "conf/keywarden.toml:5: users[1].name: duplicate user name 'a' (first declared on line "
        "1)");
  CHECK(parseError("[[users]]\nname = \"a b\"\nnopass = true\n") ==
        "conf/keywarden.toml:2: users[0].name: only printable ASCII without spaces is allowed");
  CHECK(parseError("[[users]]\nnopass = true\n") ==
        "conf/keywarden.toml:1: users[0].name: required");
  CHECK(parseError("[[users]]\nname = \"a\"\nnopass = true\nadmin = \"yes\"\n") ==
        "conf/keywarden.toml:4: users[0].admin: expected true or false, got \"yes\"");
}

TEST_CASE("config: [policy] errors") {
  CHECK(parseError("[policy]\noutside_namespaces = \"deny\"\n") ==
        "conf/keywarden.toml:2: policy.outside_namespaces: expected \"allow\" or \"refuse\", got "
        "\"deny\"");
  CHECK(parseError("[policy]\ndefault_user = \"bob\"\n") ==
        "conf/keywarden.toml:2: policy.default_user: 'bob' is not a user (no [[users]] are "
        "declared, only the implicit 'default')");
  CHECK(parseError("[[users]]\nname = \"a\"\nnopass = true\n[policy]\ndefault_user = \"b\"\n") ==
        "conf/keywarden.toml:5: policy.default_user: 'b' is not a declared user");
  CHECK(parseError("[policy]\nauth_failure_window_s = 0\n") ==
        "conf/keywarden.toml:2: policy.auth_failure_window_s: expected an integer in 1..86400, "
        "got 0");
  CHECK(parseError("[policy]\ndefault_user = 5\n") ==
        "conf/keywarden.toml:2: policy.default_user: expected a string, got 5");
}

TEST_CASE("config: the platform example loads") {
  std::string text = R"(
[policy]
outside_namespaces = "refuse"
default_user = ""
[[namespaces]]
name = "session"
pattern = "session:{user_id:uuid}:{session_id}"
default_ttl_s = 2592000
max_ttl_s = 2592000
ttl_required = true
[[namespaces]]
name = "blacklist:access"
pattern = "blacklist:access:{jti}"
default_ttl_s = 900
ttl_required = true
[[namespaces]]
name = "blacklist:refresh"
pattern = "blacklist:refresh:{jti}"
default_ttl_s = 2592000
ttl_required = true
[[namespaces]]
name = "profile"
pattern = "profile:{user_id:int}"
[[namespaces]]
name = "doc:processing"
pattern = "doc:processing:{doc_id}"
default_ttl_s = 600
max_ttl_s = 3600
ttl_required = true
over_max_ttl = "refuse"
[[namespaces]]
name = "rl"
pattern = "rl:{bucket}:{client}"
default_ttl_s = 60
ttl_required = true
[[namespaces]]
name = "user:id"
pattern = "user:id:{user_id:int}"
[[namespaces]]
name = "user:email"
pattern = "user:email:{email}"
[[namespaces]]
name = "tenant-cache"
pattern = "{tenant}:cache:{rest...}"
default_ttl_s = 300
[[users]]
name = "auth-service"
password_hash = "HASH"
read = ["session", "blacklist:*", "rl"]
write = ["session", "blacklist:*", "rl"]
commands = ["read", "write", "keyspace"]
[[users]]
name = "user-service"
password_hash = "HASH"
read = ["profile", "user:*"]
write = ["profile", "user:*"]
commands = ["read", "write", "keyspace", "pubsub"]
channels = ["user:*"]
[[users]]
name = "ops"
password_hash = "HASH"
admin = true
)";
  for (size_t at; (at = text.find("HASH")) != std::string::npos;)
    text.replace(at, 4, kHash);
  Config c = parseOk(text);
  CHECK(c.policy.namespaces.size() == 9);
  CHECK(c.policy.users.size() == 3);
  CHECK(c.policy.default_user.empty());
}

TEST_CASE("parseHostPort") {
  HostPort hp;
  std::string why;
  CHECK(parseHostPort("localhost:6379", false, &hp, &why));
  CHECK(hp.host == "localhost");
  CHECK(hp.port == 6379);
  CHECK(parseHostPort("[fe80::1%eth0]:1", false, &hp, &why));
  CHECK(hp.host == "fe80::1%eth0");
  CHECK(formatHostPort(hp) == "[fe80::1%eth0]:1");
  CHECK(formatHostPort({"10.0.0.1", 80}) == "10.0.0.1:80");
  CHECK(parseHostPort("h:0", true, &hp, &why));
  CHECK_FALSE(parseHostPort("h:0", false, &hp, &why));
  CHECK_FALSE(parseHostPort(":6379", false, &hp, &why));
  CHECK(why == "empty host");
  CHECK_FALSE(parseHostPort("[]:6379", false, &hp, &why));
  CHECK_FALSE(parseHostPort("[::1]6379", false, &hp, &why));
  CHECK_FALSE(parseHostPort("[::1:6379", false, &hp, &why));
  CHECK_FALSE(parseHostPort("[1.2.3.4]:6379", false, &hp, &why));
  CHECK_FALSE(parseHostPort("h:+80", false, &hp, &why));
  CHECK_FALSE(parseHostPort("h:080000", false, &hp, &why));
  CHECK_FALSE(parseHostPort("h:", false, &hp, &why));
  CHECK_FALSE(parseHostPort("a b:1", false, &hp, &why));
  CHECK_FALSE(parseHostPort(std::string_view("a\0b:1", 5), false, &hp, &why));
  CHECK(parseHostPort("h:00080", false, &hp, nullptr));
  CHECK(hp.port == 80);
}

}  // namespace
}  // namespace kw

namespace kw {
namespace {

TEST_CASE("config: near cache and blacklist keys") {
  Config c = parseOk(R"(
[near_cache]
max_bytes = 1000000
admission = "second_read"
heartbeat_ms = 100
feed_timeout_ms = 500
[[namespaces]]
name = "profile"
pattern = "profile:{id}"
near_cache = true
near_cache_max_ttl_ms = 2000
[[namespaces]]
name = "bl"
pattern = "blacklist:access:{jti}"
kind = "blacklist"
max_ttl_s = 2592000
ttl_required = true
blacklist_fail_open = true
[[namespaces]]
name = "plain"
pattern = "plain:{id}"
)");
  CHECK(c.cache.max_bytes == 1000000);
  CHECK(c.cache.admission == CacheAdmission::kSecondRead);
  CHECK(c.cache.heartbeat_ms == 100);
  CHECK(c.cache.feed_timeout_ms == 500);
  REQUIRE(c.cache.namespaces.size() == 3);
  CHECK(c.cache.namespaces[0].near_cache);
  CHECK(c.cache.namespaces[0].max_ttl_ms == 2000);
  CHECK(c.cache.namespaces[1].fail_open);
  CHECK_FALSE(c.cache.namespaces[2].near_cache);
  CHECK(c.policy.namespaces[1].kind == NamespaceKind::kBlacklist);
  CHECK(c.policy.namespaces[1].over_max_ttl == OverMaxTtl::kRefuse);
  CHECK(c.policy.namespaces[1].ttl_required);
  CHECK(Config().cache.max_bytes == 64ull << 20);
}

TEST_CASE("config: near cache and blacklist errors") {
  CHECK(parseError("[[namespaces]]\nname = \"t\"\npattern = \"{tenant}:cache:{k}\"\n"
                   "near_cache = true\n") ==
        "conf/keywarden.toml:4: namespaces[0].near_cache: namespace 't' cannot be cached: its "
        "pattern must start with literal text (the Redis key prefix its invalidations are "
        "tracked by)");
  CHECK(parseError("[[namespaces]]\nname = \"b\"\npattern = \"{tenant}:bl:{k}\"\nkind = "
                   "\"blacklist\"\nmax_ttl_s = 10\n") ==
        "conf/keywarden.toml:3: namespaces[0].pattern: a blacklist namespace's pattern must "
        "start with literal text (its Redis prefix)");
  CHECK(parseError("[[namespaces]]\nname = \"b\"\npattern = \"bl:{k}\"\nkind = \"blacklist\"\n") ==
        "conf/keywarden.toml:1: namespaces[0].max_ttl_s: a blacklist namespace needs max_ttl_s > "
        "0 (the longest token lifetime)");
  const std::string base = "[[namespaces]]\nname = \"b\"\npattern = \"bl:{k}\"\nkind = "
                           "\"blacklist\"\nmax_ttl_s = 10\n";
  CHECK(parseError(base + "default_ttl_s = 5\n")
            .find("namespaces[0].default_ttl_s: not allowed in a blacklist namespace") !=
        std::string::npos);
  CHECK(parseError(base + "over_max_ttl = \"clamp\"\n")
            .find("a clamped revocation would make a revoked token valid again") !=
        std::string::npos);
  CHECK(parseError(base + "ttl_required = false\n").find("requires a TTL on every key") !=
        std::string::npos);
  CHECK(parseError(base + "near_cache = true\n").find("not for a blacklist namespace") !=
        std::string::npos);
  CHECK(parseError("[[namespaces]]\nname = \"p\"\npattern = \"p:{k}\"\nblacklist_fail_open = "
                   "true\n")
            .find("only for kind = \"blacklist\"") != std::string::npos);
  CHECK(parseError("[[namespaces]]\nname = \"p\"\npattern = \"p:{k}\"\nnear_cache_max_ttl_ms = "
                   "5\n")
            .find("needs near_cache = true") != std::string::npos);
  CHECK(parseError("[[namespaces]]\nname = \"p\"\npattern = \"p:{k}\"\nkind = \"list\"\n")
            .find("expected \"normal\" or \"blacklist\"") != std::string::npos);
  CHECK(parseError("[near_cache]\nmax_byte = 5\n") ==
        "conf/keywarden.toml:2: near_cache.max_byte: unknown key");
  CHECK(parseError("[near_cache]\nadmission = \"always\"\n")
            .find("expected \"first_read\" or \"second_read\"") != std::string::npos);
  CHECK(parseError("[near_cache]\nheartbeat_ms = 500\nfeed_timeout_ms = 400\n")
            .find("must be greater than heartbeat_ms") != std::string::npos);
  CHECK(parseError("near_cache = 5\n").find("expected a table [near_cache]") != std::string::npos);
}

}  // namespace
}  // namespace kw

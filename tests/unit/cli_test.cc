#include <unistd.h>

#include <cstdio>
#include <initializer_list>
#include <string>
#include <vector>

#include <doctest.h>

#include "common/cli.h"

namespace kw {
namespace {

struct Argv {
  explicit Argv(std::initializer_list<const char*> args) {
    storage.emplace_back("keywarden");
    for (const char* a : args)
      storage.emplace_back(a);
    for (std::string& s : storage)
      ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(ptrs.size()) - 1; }
  char** argv() { return ptrs.data(); }
  std::vector<std::string> storage;
  std::vector<char*> ptrs;
};

bool parse(std::initializer_list<const char*> args, CliOptions* out, std::string* error) {
  Argv a(args);
  return parseCli(a.argc(), a.argv(), out, error);
}

std::string parseError(std::initializer_list<const char*> args) {
  CliOptions o;
  std::string error;
  CHECK_FALSE(parse(args, &o, &error));
  return error;
}

TEST_CASE("cli: no arguments gives defaults") {
  CliOptions o;
  std::string error;
  CHECK(parse({}, &o, &error));
  CHECK(o.config_path == "conf/keywarden.toml");
  CHECK_FALSE(o.check_config);
  CHECK_FALSE(o.help);
  CHECK_FALSE(o.version);
  CHECK_FALSE(o.listen);
  CHECK_FALSE(o.upstream);
  CHECK_FALSE(o.metrics_listen);
  CHECK_FALSE(o.upstream_password);
  CHECK_FALSE(o.workers);
  CHECK_FALSE(o.log_level);
}

TEST_CASE("cli: config path in all three forms") {
  for (auto args : {std::initializer_list<const char*>{"-c", "a.toml"},
                    std::initializer_list<const char*>{"--config", "a.toml"},
                    std::initializer_list<const char*>{"--config=a.toml"}}) {
    CliOptions o;
    std::string error;
    CHECK(parse(args, &o, &error));
    CHECK(o.config_path == "a.toml");
  }
}

TEST_CASE("cli: every option, separate and = forms") {
  CliOptions o;
  std::string error;
  REQUIRE(parse({"--listen", "0.0.0.0:7000", "--upstream=[::1]:7001", "--upstream-password", "pw",
                 "--workers=8", "--metrics-listen", "127.0.0.1:0", "--log-level", "warn",
                 "--check-config", "-h", "--version"},
                &o, &error));
  CHECK(o.listen->host == "0.0.0.0");
  CHECK(o.listen->port == 7000);
  CHECK(o.upstream->host == "::1");
  CHECK(o.upstream->port == 7001);
  CHECK(*o.upstream_password == "pw");
  CHECK(*o.workers == 8);
  CHECK(o.metrics_listen->port == 0);
  CHECK(*o.log_level == LogLevel::kWarn);
  CHECK(o.check_config);
  CHECK(o.help);
  CHECK(o.version);

  CliOptions p;
  REQUIRE(parse({"--listen=h:1", "--upstream", "u:2", "--upstream-password=a=b", "--workers", "0",
                 "--metrics-listen=m:3", "--log-level=debug", "--help", "-v"},
                &p, &error));
  CHECK(p.listen->host == "h");
  CHECK(p.upstream->port == 2);
  CHECK(*p.upstream_password == "a=b");
  CHECK(*p.workers == 0);
  CHECK(p.metrics_listen->host == "m");
  CHECK(*p.log_level == LogLevel::kDebug);
  CHECK(p.help);
  CHECK(p.version);
}

TEST_CASE("cli: empty password and values starting with '-' are taken as values") {
  CliOptions o;
  std::string error;
  REQUIRE(parse({"--upstream-password=", "-c", "-weird.toml"}, &o, &error));
  CHECK(o.upstream_password->empty());
  CHECK(o.config_path == "-weird.toml");
}

TEST_CASE("cli: last occurrence wins") {
  CliOptions o;
  std::string error;
  REQUIRE(parse({"--workers", "1", "--workers=2"}, &o, &error));
  CHECK(*o.workers == 2);
}

TEST_CASE("cli: errors") {
  CHECK(parseError({"--bogus"}) == "unknown option --bogus (see --help)");
  CHECK(parseError({"--bogus=1"}) == "unknown option --bogus (see --help)");
  CHECK(parseError({"-x"}) == "unknown option -x (see --help)");
  CHECK(parseError({"config.toml"}) == "unexpected argument \"config.toml\" (see --help)");
  CHECK(parseError({"--listen"}) == "--listen: missing value (see --help)");
  CHECK(parseError({"-c"}) == "-c: missing value (see --help)");
  CHECK(parseError({"--config="}) == "--config: expected a file path, got \"\"");
  CHECK(parseError({"--check-config=yes"}) == "--check-config: takes no value");
  CHECK(parseError({"--workers", "1025"}) ==
        "--workers: expected an integer in 0..1024, got \"1025\"");
  CHECK(parseError({"--workers=-1"}) == "--workers: expected an integer in 0..1024, got \"-1\"");
  CHECK(parseError({"--workers=99999999999"}) ==
        "--workers: expected an integer in 0..1024, got \"99999999999\"");
  CHECK(parseError({"--log-level", "trace"}) ==
        "--log-level: expected one of debug|info|warn|error, got \"trace\"");
  CHECK(parseError({"--upstream", "redis:0"}) ==
        "--upstream: expected HOST:PORT or [IPV6]:PORT (port must be in 1..65535), got "
        "\"redis:0\"");
  CHECK(parseError({"--listen=nope"}) ==
        "--listen: expected HOST:PORT, [IPV6]:PORT or unix:/PATH (missing ':PORT'), got \"nope\"");
}

TEST_CASE("cli: overrides replace only what was given") {
  Config c;
  c.upstream.password = "from-file";
  c.upstream.db = 4;
  CliOptions none;
  applyCliOverrides(none, &c);
  CHECK(c.upstream.password == "from-file");
  CHECK(c.server.listen.port == 6380);

  CliOptions o;
  std::string error;
  REQUIRE(parse({"--listen", "1.2.3.4:1", "--upstream", "u:2", "--upstream-password", "pw",
                 "--workers", "3", "--metrics-listen", "m:4", "--log-level", "error"},
                &o, &error));
  applyCliOverrides(o, &c);
  CHECK(c.server.listen.host == "1.2.3.4");
  CHECK(c.server.listen.port == 1);
  CHECK(c.upstream.address.host == "u");
  CHECK(c.upstream.address.port == 2);
  CHECK(c.upstream.password == "pw");
  CHECK(c.upstream.db == 4);
  CHECK(c.server.workers == 3);
  CHECK(c.metrics.listen.host == "m");
  CHECK(c.metrics.listen.port == 4);
  CHECK(c.server.log_level == LogLevel::kError);
}

TEST_CASE("cli: without -c and without conf/keywarden.toml, the built-in defaults") {
  CliOptions o;
  std::string error;
  REQUIRE(parse({}, &o, &error));
  CHECK_FALSE(o.config_given);
  o.config_path = "/nonexistent/keywarden.toml";  // as if the default path were missing
  Config c;
  const unsigned default_workers = c.server.workers;
  c.server.workers = 7;
  bool defaults = false;
  REQUIRE(loadStartupConfig(o, &c, &defaults, &error));
  CHECK(defaults);
  CHECK(c.server.workers == default_workers);
  CHECK(c.source_path.empty());
  CHECK(c.server.listen.port == 6380);

  // Named with -c, a missing file is an error, whatever its name.
  CliOptions given;
  REQUIRE(parse({"-c", "/nonexistent/keywarden.toml"}, &given, &error));
  CHECK(given.config_given);
  CHECK_FALSE(loadStartupConfig(given, &c, &defaults, &error));
  CHECK_FALSE(defaults);
  CHECK(error == "/nonexistent/keywarden.toml: cannot open: No such file or directory");

  // A default file that exists is loaded, and its errors are errors.
  char path[] = "/tmp/kw_cli_test_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  FILE* f = fopen(path, "w");
  fputs("[server]\nworkers = 3\n", f);
  fclose(f);
  o.config_path = path;
  REQUIRE(loadStartupConfig(o, &c, &defaults, &error));
  CHECK_FALSE(defaults);
  CHECK(c.server.workers == 3);
  CHECK(c.source_path == path);
  f = fopen(path, "w");
  fputs("[server]\nworkers = -1\n", f);
  fclose(f);
  CHECK_FALSE(loadStartupConfig(o, &c, &defaults, &error));
  CHECK(error.find(":2: server.workers") != std::string::npos);
  unlink(path);
}

TEST_CASE("cli: addresses on the command line must resolve, as startup needs them to") {
  CliOptions o;
  std::string error;
  REQUIRE(parse(
      {"--listen", "localhost:6391", "--upstream", "127.0.0.1:6379", "--metrics-listen", "[::1]:0"},
      &o, &error));
  CHECK_MESSAGE(checkCliAddresses(o, &error), error);
  REQUIRE(parse({"--listen", "no-such-host.invalid:6391"}, &o, &error));
  CHECK_FALSE(checkCliAddresses(o, &error));
  CHECK(error.rfind("--listen: cannot resolve host \"no-such-host.invalid\" (", 0) == 0);
  CliOptions none;
  CHECK(checkCliAddresses(none, &error));
}

TEST_CASE("cli: help lists every option") {
  std::string help = cliHelpText();
  for (const char* opt :
       {"--config", "-c", "--check-config", "--listen", "--upstream ", "--upstream-password",
        "--workers", "--metrics-listen", "--log-level", "--help", "-h", "--version", "-v"}) {
    CHECK_MESSAGE(help.find(opt) != std::string::npos, opt);
  }
}

}  // namespace
}  // namespace kw

// "unix:/path" addresses (common/unix_address.h): the parser's table, its place in server.listen
// and --listen, unix_mode, and the socket address it resolves to.
#include <doctest.h>

#include <sys/un.h>

#include <string>
#include <vector>

#include "common/cli.h"
#include "common/config_loader.h"
#include "common/net_address.h"
#include "common/unix_address.h"

namespace kw {
namespace {

std::string parseError(const std::string& text) {
  Config config;
  std::string error;
  CHECK_FALSE(parseConfigText(text, "k.toml", &config, &error));
  return error;
}

Config parseOk(const std::string& text) {
  Config config;
  std::string error;
  const bool ok = parseConfigText(text, "k.toml", &config, &error);
  INFO(error);
  CHECK(ok);
  return config;
}

}  // namespace

TEST_CASE("unix address: the table of unix_address.h") {
  struct Row {
    std::string text;
    std::string path;   // "" when refused
    std::string error;  // the reason when refused
  };
  const std::string longest = "/" + std::string(kMaxUnixPathBytes - 1, 'a');
  const std::vector<Row> rows = {
      {"unix:/run/keywarden/kw.sock", "/run/keywarden/kw.sock", ""},
      {"unix:/s", "/s", ""},
      {"unix:" + longest, longest, ""},
      {"unix:/with space/kw.sock", "/with space/kw.sock", ""},
      {"unix:kw.sock", "", "the socket path must be absolute"},
      {"unix:", "", "no path after unix:"},
      {"unix:/run/keywarden/", "", "the socket path names a directory"},
      {"unix:" + longest + "b", "", "the socket path is longer than 107 bytes"},
      {std::string("unix:/a\0b", 9), "", "control character in the socket path"},
      {"unix:/a\nb", "", "control character in the socket path"},
      {"127.0.0.1:6380", "", "not a unix: address"},
      {"UNIX:/a", "", "not a unix: address"},
  };
  for (const Row& row : rows) {
    INFO(row.text);
    std::string path, error;
    const bool ok = parseUnixAddress(row.text, &path, &error);
    CHECK(ok == !row.path.empty());
    CHECK(path == row.path);
    CHECK(error == row.error);
    CHECK(isUnixAddress(row.text) == (row.text.rfind("unix:", 0) == 0));
  }
}

TEST_CASE("unix address: parseHostPortOrUnix and formatHostPort") {
  HostPort hp;
  std::string error;
  REQUIRE(parseHostPortOrUnix("unix:/tmp/kw.sock", true, &hp, &error));
  CHECK(hp.isUnix());
  CHECK(hp.unix_path == "/tmp/kw.sock");
  CHECK(hp.host.empty());
  CHECK(hp.port == 0);
  CHECK(formatHostPort(hp) == "unix:/tmp/kw.sock");
  REQUIRE(parseHostPortOrUnix("[::1]:6380", true, &hp, &error));
  CHECK_FALSE(hp.isUnix());
  CHECK(formatHostPort(hp) == "[::1]:6380");
  CHECK_FALSE(parseHostPortOrUnix("unix:rel", true, &hp, &error));
  CHECK(error == "the socket path must be absolute");
  // Plain parseHostPort is unchanged: a unix: text is no HOST:PORT there.
  CHECK_FALSE(parseHostPort("unix:/tmp/kw.sock", true, &hp, &error));
}

TEST_CASE("unix address: resolves to its sockaddr_un, no name service") {
  HostPort hp;
  hp.unix_path = "/tmp/kw.sock";
  SocketAddress addr;
  std::string error;
  REQUIRE(resolveHostPort(hp, AddressUse::kListen, &addr, &error));
  CHECK(addr.family() == AF_UNIX);
  const auto* un = reinterpret_cast<const sockaddr_un*>(addr.get());
  CHECK(std::string(un->sun_path) == "/tmp/kw.sock");
  CHECK(addr.length == offsetof(sockaddr_un, sun_path) + hp.unix_path.size() + 1);
}

TEST_CASE("unix address: unix_mode") {
  uint32_t mode = 0;
  for (const auto& [text, want] : std::vector<std::pair<std::string, uint32_t>>{
           {"0660", 0660}, {"660", 0660}, {"0777", 0777}, {"0", 0}, {"0600", 0600}}) {
    INFO(text);
    REQUIRE(parseUnixMode(text, &mode));
    CHECK(mode == want);
  }
  for (const std::string bad : {"", "0778", "1777", "rw-rw----", "06600", "-1", "0x1f"}) {
    INFO(bad);
    CHECK_FALSE(parseUnixMode(bad, &mode));
  }
}

TEST_CASE("unix address: server.listen and unix_mode in the file") {
  Config c = parseOk("[server]\nlisten = \"unix:/run/kw/kw.sock\"\nunix_mode = \"0600\"\n");
  CHECK(c.server.listen.unix_path == "/run/kw/kw.sock");
  CHECK(c.server.unix_mode == 0600);
  c = parseOk("[server]\nlisten = \"unix:/run/kw/kw.sock\"\n");
  CHECK(c.server.unix_mode == 0660);  // the default
  CHECK(parseError("[server]\nlisten = \"unix:kw.sock\"\n") ==
        "k.toml:2: server.listen: expected HOST:PORT, [IPV6]:PORT or unix:/PATH (the socket path "
        "must be absolute), got \"unix:kw.sock\"");
  CHECK(parseError("[server]\nlisten = \"unix:/a.sock\"\nunix_mode = \"0800\"\n") ==
        "k.toml:3: server.unix_mode: expected an octal file mode such as \"0660\" (at most 0777), "
        "got \"0800\"");
  CHECK(parseError("[server]\nlisten = \"unix:/a.sock\"\nunix_mode = 660\n") ==
        "k.toml:3: server.unix_mode: expected an octal file mode such as \"0660\" (at most 0777), "
        "got 660");
  CHECK(parseError("[server]\nlisten = \"127.0.0.1:6380\"\nunix_mode = \"0660\"\n") ==
        "k.toml:3: server.unix_mode: needs listen = \"unix:/PATH\"");
  // upstream.address takes one too (tls_config_test.cc); metrics.listen does not.
  CHECK(parseError("[metrics]\nlisten = \"unix:/run/m.sock\"\n")
            .find("metrics.listen: expected "
                  "HOST:PORT or") != std::string::npos);
  // The TLS listener is TCP: a Unix server.listen beside it is fine.
  c = parseOk("[server]\nlisten = \"unix:/run/kw.sock\"\n[tls]\nlisten = \"127.0.0.1:6390\"\n"
              "cert_file = \"/c\"\nkey_file = \"/k\"\n");
  CHECK(c.tls.enabled);
}

TEST_CASE("server.listen = \"\": no plaintext listener, only with [tls]") {
  const Config c = parseOk("[server]\nlisten = \"\"\n[tls]\nlisten = \"127.0.0.1:6390\"\n"
                           "cert_file = \"/c\"\nkey_file = \"/k\"\n");
  CHECK(c.server.listen.empty());
  CHECK(formatHostPort(c.server.listen).empty());
  CHECK(parseError("[server]\nlisten = \"\"\n") ==
        "k.toml:2: server.listen: \"\" (no plaintext listener) needs a [tls] section: clients "
        "need a listener");
}

TEST_CASE("unix address: --listen") {
  std::vector<const char*> argv = {"keywarden", "--listen", "unix:/tmp/kw.sock"};
  CliOptions o;
  std::string error;
  REQUIRE(parseCli(static_cast<int>(argv.size()), const_cast<char**>(argv.data()), &o, &error));
  REQUIRE(o.listen);
  CHECK(o.listen->unix_path == "/tmp/kw.sock");
  CHECK(checkCliAddresses(o, &error));
  argv = {"keywarden", "--upstream", "unix:/tmp/r.sock"};
  CliOptions u;
  CHECK_FALSE(parseCli(static_cast<int>(argv.size()), const_cast<char**>(argv.data()), &u, &error));
}

}  // namespace kw

// The [tls] section and the tls* keys of [upstream]: defaults, every key, and the errors.
#include <doctest.h>

#include <string>

#include "common/config_loader.h"

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

TEST_CASE("tls config: off unless asked for") {
  const Config c = parseOk("");
  CHECK_FALSE(c.tls.enabled);
  CHECK_FALSE(c.upstream.tls.enabled);
  CHECK(c.upstream.tls.verify);
}

TEST_CASE("tls config: [tls] with every key") {
  const Config c = parseOk(R"([tls]
listen = "0.0.0.0:6443"
cert_file = "/etc/kw/server.pem"
key_file = "/etc/kw/server.key"
ca_file = "/etc/kw/ca.pem"
client_certs = "optional"
min_version = "1.3"
ciphers = "ECDHE+AESGCM"
ciphersuites = "TLS_AES_256_GCM_SHA384"
)");
  CHECK(c.tls.enabled);
  CHECK(c.tls.listen.host == "0.0.0.0");
  CHECK(c.tls.listen.port == 6443);
  CHECK(c.tls.cert_file == "/etc/kw/server.pem");
  CHECK(c.tls.key_file == "/etc/kw/server.key");
  CHECK(c.tls.ca_file == "/etc/kw/ca.pem");
  CHECK(c.tls.client_certs == ClientCerts::kOptional);
  CHECK(c.tls.min_version == TlsMinVersion::k13);
  CHECK(c.tls.ciphers == "ECDHE+AESGCM");
  CHECK(c.tls.ciphersuites == "TLS_AES_256_GCM_SHA384");
}

TEST_CASE("tls config: client_certs defaults to require with a ca_file, off without") {
  const std::string base = "[tls]\nlisten = \"127.0.0.1:6443\"\ncert_file = \"c\"\n"
                           "key_file = \"k\"\n";
  CHECK(parseOk(base).tls.client_certs == ClientCerts::kOff);
  CHECK(parseOk(base).tls.min_version == TlsMinVersion::k12);
  CHECK(parseOk(base + "ca_file = \"ca\"\n").tls.client_certs == ClientCerts::kRequire);
  CHECK(parseOk(base + "ca_file = \"ca\"\nclient_certs = \"off\"\n").tls.client_certs ==
        ClientCerts::kOff);
  CHECK(parseError(base + "client_certs = \"require\"\n") ==
        "k.toml:5: tls.client_certs: needs ca_file (the CAs client certificates must chain to)");
}

TEST_CASE("tls config: [tls] errors name the line and the key") {
  CHECK(parseError("[tls]\n") == "k.toml:1: tls.listen: required\n"
                                 "k.toml:1: tls.cert_file: required\n"
                                 "k.toml:1: tls.key_file: required");
  CHECK(parseError("tls = 5\n") == "k.toml:1: tls: expected a table [tls], got 5");
  const std::string base = "[tls]\ncert_file = \"c\"\nkey_file = \"k\"\n";
  CHECK(parseError(base + "listen = \"nope\"\n") ==
        "k.toml:4: tls.listen: expected HOST:PORT or [IPV6]:PORT (missing ':PORT'), got \"nope\"");
  CHECK(parseError(base + "listen = \"127.0.0.1:6380\"\n") ==
        "k.toml:4: tls.listen: must differ from server.listen (127.0.0.1:6380)");
  const std::string ok = base + "listen = \"127.0.0.1:6443\"\n";
  CHECK(parseError(ok + "min_version = \"1.1\"\n") ==
        "k.toml:5: tls.min_version: expected \"1.2\" or \"1.3\", got \"1.1\"");
  CHECK(parseError(ok + "min_version = 1.3\n") ==
        "k.toml:5: tls.min_version: expected \"1.2\" or \"1.3\", got 1.3");
  CHECK(parseError(ok + "client_certs = true\n") ==
        "k.toml:5: tls.client_certs: expected \"require\" or \"optional\" or \"off\", got true");
  CHECK(parseError(ok + "cert = \"x\"\n").find("k.toml:5: tls.cert: unknown key") == 0);
  CHECK(parseError(ok + "ca_file = \"\"\n") == "k.toml:5: tls.ca_file: expected a file name, "
                                               "got \"\"");
  CHECK(parseError(ok + "ciphers = []\n") == "k.toml:5: tls.ciphers: expected a string, got an "
                                             "array");
}

TEST_CASE("tls config: upstream tls keys") {
  const Config c = parseOk(R"([upstream]
address = "redis.internal:6380"
tls = true
tls_ca_file = "/etc/kw/redis-ca.pem"
tls_cert_file = "/etc/kw/kw.pem"
tls_key_file = "/etc/kw/kw.key"
tls_server_name = "redis.internal"
tls_verify = false
)");
  CHECK(c.upstream.tls.enabled);
  CHECK(c.upstream.tls.ca_file == "/etc/kw/redis-ca.pem");
  CHECK(c.upstream.tls.cert_file == "/etc/kw/kw.pem");
  CHECK(c.upstream.tls.key_file == "/etc/kw/kw.key");
  CHECK(c.upstream.tls.server_name == "redis.internal");
  CHECK_FALSE(c.upstream.tls.verify);
  CHECK(parseOk("[upstream]\ntls = true\n").upstream.tls.verify);
}

TEST_CASE("tls config: upstream tls errors") {
  CHECK(parseError("[upstream]\ntls_ca_file = \"ca\"\ntls_verify = false\n") ==
        "k.toml:2: upstream.tls_ca_file: needs tls = true\n"
        "k.toml:3: upstream.tls_verify: needs tls = true");
  CHECK(parseError("[upstream]\ntls = true\ntls_cert_file = \"c\"\n") ==
        "k.toml:3: upstream.tls_key_file: required with upstream.tls_cert_file");
  CHECK(parseError("[upstream]\ntls = true\ntls_key_file = \"k\"\n") ==
        "k.toml:3: upstream.tls_cert_file: required with upstream.tls_key_file");
  CHECK(parseError("[upstream]\ntls = \"yes\"\n") ==
        "k.toml:2: upstream.tls: expected true or false, got \"yes\"");
  CHECK(parseError("[upstream]\ntls = true\ntls_server_name = \"\"\n") ==
        "k.toml:3: upstream.tls_server_name: expected a host name or IP address, got \"\"");
  CHECK(parseError("[upstream]\ntls = true\ntls_sni = \"x\"\n") ==
        "k.toml:3: upstream.tls_sni: unknown key");
  // Redis serves TLS on its tls-port only.
  CHECK(parseError("[upstream]\naddress = \"unix:/run/redis/redis.sock\"\ntls = true\n") ==
        "k.toml:3: upstream.tls: a Unix socket upstream is not TLS (Redis serves TLS on its "
        "tls-port only)");
}

TEST_CASE("upstream config: a Unix socket address") {
  const Config c = parseOk("[upstream]\naddress = \"unix:/run/redis/redis.sock\"\n");
  CHECK(c.upstream.address.isUnix());
  CHECK(c.upstream.address.unix_path == "/run/redis/redis.sock");
  CHECK(formatHostPort(c.upstream.address) == "unix:/run/redis/redis.sock");
  CHECK(parseError("[upstream]\naddress = \"unix:redis.sock\"\n")
            .rfind("k.toml:2: upstream.address: expected HOST:PORT, [IPV6]:PORT or unix:/PATH (",
                   0) == 0);
  CHECK(parseError("[upstream]\naddress = \"unix:\"\n").rfind("k.toml:2: upstream.address: ", 0) ==
        0);
  // Not in cluster mode: the nodes are reached at the addresses they announce.
  CHECK(parseError("[upstream]\nmode = \"cluster\"\nseeds = [\"unix:/run/redis.sock\"]\n") ==
        "k.toml:2: upstream.seeds: mode = \"cluster\" needs at least one seed\n"
        "k.toml:3: upstream.seeds: a cluster is reached over TCP (its nodes announce host:port), "
        "got \"unix:/run/redis.sock\"");
  CHECK(
      parseError("[upstream]\nmode = \"cluster\"\nseeds = [\"127.0.0.1:7000\"]\n"
                 "address = \"unix:/run/redis.sock\"\n") ==
      "k.toml:4: upstream.address: not used with mode = \"cluster\": the nodes come from `seeds`");
}

TEST_CASE("upstream config: tls in cluster mode") {
  const Config c = parseOk("[upstream]\nmode = \"cluster\"\nseeds = [\"127.0.0.1:7000\"]\n"
                           "tls = true\ntls_ca_file = \"/etc/kw/ca.pem\"\n");
  CHECK(c.upstream.tls.enabled);
  CHECK(c.upstream.tls.ca_file == "/etc/kw/ca.pem");
}

}  // namespace kw

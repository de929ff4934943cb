// Client and server TlsChannels against each other, in memory: handshake, data, verification
// rules, resumption, reload and the errors --check-config shows. Certificates: tls_test_certs.h.
#include <doctest.h>

#include <openssl/ssl.h>

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tls/tls_channel.h"
#include "tls/tls_context.h"
#include "tls/tls_contexts.h"
#include "tls_test_certs.h"

namespace kw {
namespace {

using test::TestPki;

const TestPki& pki() {
  static const TestPki instance;  // made once for the whole file
  return instance;
}

TlsServerConfig serverConfig(const std::string& cert = "server",
                             ClientCerts client_certs = ClientCerts::kOff) {
  TlsServerConfig c;
  c.enabled = true;
  c.listen = {"127.0.0.1", 0};
  c.cert_file = pki().path(cert + ".pem");
  c.key_file = pki().path(cert + ".key");
  c.client_certs = client_certs;
  if (client_certs != ClientCerts::kOff)
    c.ca_file = pki().path("ca.pem");
  return c;
}

UpstreamTlsConfig upstreamConfig(const std::string& client_cert = "") {
  UpstreamTlsConfig c;
  c.enabled = true;
  c.ca_file = pki().path("ca.pem");
  if (!client_cert.empty()) {
    c.cert_file = pki().path(client_cert + ".pem");
    c.key_file = pki().path(client_cert + ".key");
  }
  return c;
}

std::shared_ptr<const TlsContext> serverContext(const TlsServerConfig& c,
                                                time_t now = time(nullptr)) {
  std::string error;
  auto ctx = TlsContext::forServer(c, &error, now);
  INFO(error);
  REQUIRE(ctx != nullptr);
  return ctx;
}

std::shared_ptr<const TlsContext> clientContext(const UpstreamTlsConfig& c,
                                                time_t now = time(nullptr)) {
  std::string error, warning;
  auto ctx = TlsContext::forUpstream(c, &error, &warning, now);
  INFO(error);
  REQUIRE(ctx != nullptr);
  return ctx;
}

// A client and a server channel wired together through their ciphertext.
struct Link {
  std::unique_ptr<TlsChannel> client, server;
  std::string client_in, server_in;  // plaintext each side has read

  // Moves ciphertext both ways, `chunk` bytes per feed, until neither side has anything to send.
  void pump(size_t chunk = SIZE_MAX) {
    for (int round = 0; round < 10000; ++round) {
      const bool a = move(*client, *server, &server_in, chunk);
      const bool b = move(*server, *client, &client_in, chunk);
      if (!a && !b)
        return;
    }
    FAIL("the two channels never settle");
  }

  static bool move(TlsChannel& from, TlsChannel& to, std::string* to_in, size_t chunk) {
    std::string bytes;
    from.takeCiphertext(&bytes);
    for (size_t i = 0; i < bytes.size(); i += chunk) {
      to.feedCiphertext(std::string_view(bytes).substr(i, chunk));
      to.readPlaintext(to_in);
    }
    return !bytes.empty();
  }
};

Link connect(const std::shared_ptr<const TlsContext>& server,
             const std::shared_ptr<const TlsContext>& client, const std::string& name = "localhost",
             const std::string& key = "redis:6379", size_t chunk = SIZE_MAX) {
  Link link;
  link.server = TlsChannel::accept(server);
  link.client = TlsChannel::connect(client, name, key);
  link.pump(chunk);
  return link;
}

void checkOpen(const Link& link) {
  INFO("client: " << link.client->failureReason());
  INFO("server: " << link.server->failureReason());
  CHECK(link.client->handshakeDone());
  CHECK(link.server->handshakeDone());
  CHECK_FALSE(link.client->failed());
  CHECK_FALSE(link.server->failed());
}

void checkExchange(Link& link, size_t chunk = SIZE_MAX) {
  CHECK(link.client->writePlaintext("*1\r\n$4\r\nPING\r\n") == 14);
  link.pump(chunk);
  CHECK(link.server_in == "*1\r\n$4\r\nPING\r\n");
  CHECK(link.server->writePlaintext("+PONG\r\n") == 7);
  link.pump(chunk);
  CHECK(link.client_in == "+PONG\r\n");
  link.client_in.clear();
  link.server_in.clear();
}

std::string randomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s)
    c = static_cast<char>(rng());
  return s;
}

std::string serverError(const TlsServerConfig& c, time_t now = time(nullptr)) {
  std::string error;
  CHECK(TlsContext::forServer(c, &error, now) == nullptr);
  return error;
}

}  // namespace

TEST_CASE("tls: handshake, then data both ways") {
  Link link = connect(serverContext(serverConfig()), clientContext(upstreamConfig()));
  checkOpen(link);
  CHECK(link.client->version() == "TLSv1.3");
  CHECK(link.server->version() == "TLSv1.3");
  CHECK_FALSE(link.client->cipher().empty());
  CHECK(link.client->peerVerified());
  CHECK_FALSE(link.server->peerVerified());  // client_certs = off
  CHECK(link.client->peerSubjectNames() ==
        std::vector<std::string>{"localhost", "localhost"});  // CN, then SAN DNS (not the IP)
  checkExchange(link);
}

TEST_CASE("tls: fed one byte at a time, with a write queued before the handshake") {
  Link link;
  link.server = TlsChannel::accept(serverContext(serverConfig()));
  link.client = TlsChannel::connect(clientContext(upstreamConfig()), "localhost", "redis:6379");
  CHECK(link.client->writePlaintext("HELLO 3\r\n") == 9);  // queued: no handshake yet
  link.pump(1);
  checkOpen(link);
  CHECK(link.server_in == "HELLO 3\r\n");
  link.server_in.clear();
  checkExchange(link, 1);
}

TEST_CASE("tls: 1 MiB each way, whole and in odd pieces") {
  Link link = connect(serverContext(serverConfig()), clientContext(upstreamConfig()));
  checkOpen(link);
  const std::string up = randomBytes(1 << 20, 1), down = randomBytes(1 << 20, 2);
  CHECK(link.client->writePlaintext(up) == up.size());
  link.pump();
  CHECK(link.server_in == up);
  CHECK(link.server->writePlaintext(down) == down.size());
  link.pump(4093);
  CHECK(link.client_in == down);
  // Read back in small pieces, the way a session reads into a fixed buffer.
  link.client_in.clear();
  CHECK(link.server->writePlaintext(up) == up.size());
  std::string bytes;
  link.server->takeCiphertext(&bytes);
  link.client->feedCiphertext(bytes);
  char buf[1000];
  std::string got;
  while (size_t n = link.client->readPlaintext(buf, sizeof(buf)))
    got.append(buf, n);
  CHECK(got == up);
  // Drained: the bursts' buffers are released, an idle connection keeps little.
  CHECK(link.client->bufferCapacity() <= 2 * CipherInput::kKeepBytes);
  CHECK(link.server->bufferCapacity() <= 2 * CipherInput::kKeepBytes);
}

TEST_CASE("tls: close_notify reaches the peer as end of stream") {
  Link link = connect(serverContext(serverConfig()), clientContext(upstreamConfig()));
  checkOpen(link);
  link.client->shutdown();
  CHECK(link.client->writePlaintext("late") == 0);
  link.pump();
  CHECK(link.server->peerClosed());
  CHECK_FALSE(link.server->failed());
}

TEST_CASE("tls: plaintext on the TLS port fails at the first byte") {
  auto server = TlsChannel::accept(serverContext(serverConfig()));
  server->feedCiphertext("*1\r\n$4\r\nPING\r\n");
  CHECK(server->failed());
  CHECK(server->failureKind() == TlsChannel::Failure::kNotTls);
  CHECK(server->failureReason().find("plaintext") != std::string::npos);
  std::string out;
  server->readPlaintext(&out);
  CHECK(out.empty());
}

TEST_CASE("tls: client certificates required") {
  const auto server = serverContext(serverConfig("server", ClientCerts::kRequire));

  SUBCASE("a trusted certificate: verified, its names available") {
    Link link = connect(server, clientContext(upstreamConfig("client")));
    checkOpen(link);
    CHECK(link.server->peerVerified());
    CHECK(link.server->peerSubjectNames() ==
          std::vector<std::string>{"auth-service", "auth-service.internal", "auth@example.com",
                                   "spiffe://example.com/auth-service"});
    checkExchange(link);
  }
  SUBCASE("no certificate: refused") {
    Link link = connect(server, clientContext(upstreamConfig()));
    CHECK(link.server->failed());
    CHECK(link.server->failureKind() == TlsChannel::Failure::kCertificate);
    CHECK(link.server->failureReason() == "peer did not return a certificate");
    CHECK(link.client->failed());  // TLS 1.3: learnt from the server's alert
    CHECK(link.client->failureKind() == TlsChannel::Failure::kCertificate);
    CHECK(link.server->peerSubjectNames().empty());
  }
  SUBCASE("a certificate from an untrusted CA: refused") {
    Link link = connect(server, clientContext(upstreamConfig("rogue_client")));
    CHECK(link.server->failed());
    CHECK(link.server->failureKind() == TlsChannel::Failure::kCertificate);
    CHECK(link.server->failureReason().find("certificate verify failed") == 0);
    CHECK(link.client->failed());
  }
  SUBCASE("an expired certificate: refused") {
    const time_t two_days_ago = time(nullptr) - 2 * TestPki::kDay;
    Link link = connect(server, clientContext(upstreamConfig("expired_client"), two_days_ago));
    CHECK(link.server->failed());
    CHECK(link.server->failureReason() == "certificate verify failed: certificate has expired");
    CHECK(link.client->failed());
  }
}

TEST_CASE("tls: client certificates optional, and off") {
  SUBCASE("optional, none presented: accepted, not verified") {
    Link link = connect(serverContext(serverConfig("server", ClientCerts::kOptional)),
                        clientContext(upstreamConfig()));
    checkOpen(link);
    CHECK_FALSE(link.server->peerVerified());
    CHECK(link.server->peerSubjectNames().empty());
  }
  SUBCASE("optional, a trusted one: verified") {
    Link link = connect(serverContext(serverConfig("server", ClientCerts::kOptional)),
                        clientContext(upstreamConfig("client")));
    checkOpen(link);
    CHECK(link.server->peerVerified());
    CHECK(link.server->peerSubjectNames().front() == "auth-service");
  }
  SUBCASE("optional, an untrusted one: refused") {
    Link link = connect(serverContext(serverConfig("server", ClientCerts::kOptional)),
                        clientContext(upstreamConfig("rogue_client")));
    CHECK(link.server->failed());
    CHECK(link.server->failureKind() == TlsChannel::Failure::kCertificate);
  }
  SUBCASE("off: a client's certificate is not asked for") {
    Link link =
        connect(serverContext(serverConfig("server")), clientContext(upstreamConfig("client")));
    checkOpen(link);
    CHECK_FALSE(link.server->peerVerified());
    CHECK(SSL_get0_peer_certificate(link.server->native()) == nullptr);
  }
}

TEST_CASE("tls: the server's certificate is verified") {
  const auto client = clientContext(upstreamConfig());

  SUBCASE("untrusted CA") {
    Link link = connect(serverContext(serverConfig("rogue_server")), client);
    CHECK(link.client->failed());
    CHECK(link.client->failureKind() == TlsChannel::Failure::kCertificate);
    CHECK(link.client->failureReason() ==
          "certificate verify failed: unable to get local issuer certificate");
    CHECK(link.server->failed());  // told by the client's alert
    CHECK(link.server->failureKind() == TlsChannel::Failure::kCertificate);
  }
  SUBCASE("expired") {
    const time_t two_days_ago = time(nullptr) - 2 * TestPki::kDay;
    Link link = connect(serverContext(serverConfig("expired"), two_days_ago), client);
    CHECK(link.client->failed());
    CHECK(link.client->failureReason() == "certificate verify failed: certificate has expired");
  }
  SUBCASE("the right host name, sent as SNI") {
    Link link = connect(serverContext(serverConfig()), client, "localhost");
    checkOpen(link);
    CHECK(std::string(SSL_get_servername(link.server->native(), TLSEXT_NAMETYPE_host_name)) ==
          "localhost");
  }
  SUBCASE("a wrong host name") {
    Link link = connect(serverContext(serverConfig()), client, "redis.example.com");
    CHECK(link.client->failed());
    CHECK(link.client->failureKind() == TlsChannel::Failure::kCertificate);
    CHECK(link.client->failureReason() == "certificate verify failed: hostname mismatch");
  }
  SUBCASE("an IP address: matched against the IP entries, no SNI") {
    Link link = connect(serverContext(serverConfig()), client, "127.0.0.1");
    checkOpen(link);
    CHECK(SSL_get_servername(link.server->native(), TLSEXT_NAMETYPE_host_name) == nullptr);
    Link wrong = connect(serverContext(serverConfig()), client, "127.0.0.2");
    CHECK(wrong.client->failed());
    CHECK(wrong.client->failureReason() == "certificate verify failed: IP address mismatch");
  }
  SUBCASE("no name at all: refused before anything is sent") {
    auto channel = TlsChannel::connect(client, "", "redis:6379");
    CHECK(channel->failed());
    CHECK_FALSE(channel->hasCiphertext());
  }
}

TEST_CASE("tls: tls_verify = false accepts any certificate, with a warning") {
  UpstreamTlsConfig c = upstreamConfig();
  c.verify = false;
  std::string error, warning;
  auto client = TlsContext::forUpstream(c, &error, &warning);
  REQUIRE(client != nullptr);
  CHECK(warning.find("upstream.tls_verify = false") == 0);
  Link link = connect(serverContext(serverConfig("rogue_server")), client, "anything.example");
  checkOpen(link);
  CHECK_FALSE(link.client->peerVerified());
  CHECK(link.client->peerSubjectNames().empty());
  checkExchange(link);
}

TEST_CASE("tls: min_version = 1.3 refuses a client that stops at 1.2") {
  TlsServerConfig sc = serverConfig();
  sc.min_version = TlsMinVersion::k13;
  const auto client = clientContext(upstreamConfig());
  SSL_CTX_set_max_proto_version(client->native(), TLS1_2_VERSION);
  Link link = connect(serverContext(sc), client);
  CHECK(link.server->failed());
  CHECK(link.server->failureKind() == TlsChannel::Failure::kProtocol);
  CHECK(link.server->failureReason() == "unsupported protocol");
  CHECK(link.client->failed());

  Link tls12 = connect(serverContext(serverConfig()), client);  // 1.2 is fine by default
  checkOpen(tls12);
  CHECK(tls12.server->version() == "TLSv1.2");
}

TEST_CASE("tls: renegotiation is refused") {
  const auto client = clientContext(upstreamConfig());
  SSL_CTX_set_max_proto_version(client->native(), TLS1_2_VERSION);
  // The client's own context refuses renegotiation too; this client must try.
  SSL_CTX_clear_options(client->native(), SSL_OP_NO_RENEGOTIATION);
  Link link = connect(serverContext(serverConfig()), client);
  checkOpen(link);
  REQUIRE(SSL_renegotiate(link.client->native()) == 1);
  SSL_do_handshake(link.client->native());  // the new ClientHello
  link.pump();
  CHECK(SSL_num_renegotiations(link.server->native()) == 0);
  CHECK(link.client->failed());  // refused with a no_renegotiation alert
  CHECK(link.client->failureReason() == "no renegotiation");
  CHECK(link.server->failed());  // the client's fatal alert in return
  CHECK(link.server->failureKind() == TlsChannel::Failure::kProtocol);
}

TEST_CASE("tls: the second connection to a peer resumes the session") {
  const auto server = serverContext(serverConfig());
  for (const int max_version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    CAPTURE(max_version);
    const auto client = clientContext(upstreamConfig());
    SSL_CTX_set_max_proto_version(client->native(), max_version);
    Link first = connect(server, client, "localhost", "redis:6379");
    checkOpen(first);
    CHECK_FALSE(first.client->resumed());
    checkExchange(first);  // TLS 1.3: the tickets arrive after the handshake
    CHECK(client->sessions()->size() == 1);

    Link second = connect(server, client, "localhost", "redis:6379");
    checkOpen(second);
    CHECK(second.client->resumed());
    CHECK(second.server->resumed());
    CHECK(second.client->peerVerified());
    checkExchange(second);

    Link other_peer = connect(server, client, "localhost", "redis-2:6379");
    checkOpen(other_peer);
    CHECK_FALSE(other_peer.client->resumed());

    // A resumed session is not verified again: one verified for "localhost" is never offered
    // for another name, which must then pass a full verification (and fails it here).
    Link other_name = connect(server, client, "redis.example.com", "redis:6379");
    CHECK(other_name.client->failed());
    CHECK(other_name.client->failureReason() == "certificate verify failed: hostname mismatch");
  }
}

TEST_CASE("tls: a verified client's session resumes with its identity") {
  const auto server = serverContext(serverConfig("server", ClientCerts::kRequire));
  const auto client = clientContext(upstreamConfig("client"));
  Link first = connect(server, client);
  checkExchange(first);
  Link second = connect(server, client);
  checkOpen(second);
  CHECK(second.server->resumed());
  CHECK(second.server->peerVerified());
  CHECK(second.server->peerSubjectNames().front() == "auth-service");
}

TEST_CASE("tls: reload gives new connections the new certificate, open ones keep theirs") {
  Config config;
  config.tls = serverConfig();
  TlsContexts built;
  std::string error;
  REQUIRE(buildTlsContexts(config, &built, &error));
  CHECK(built.upstream == nullptr);
  TlsContextSlot slot;
  slot.publish(built.server);
  const auto client = clientContext(upstreamConfig());
  Link before = connect(slot.current(), client);
  checkOpen(before);

  config.tls = serverConfig("server2");  // the renewed certificate
  REQUIRE(buildTlsContexts(config, &built, &error));
  slot.publish(built.server);
  CHECK(slot.generation() == 2);
  Link after = connect(slot.current(), client, "localhost", "fresh:6379");
  checkOpen(after);
  CHECK(after.client->peerSubjectNames().front() == "renewed");
  CHECK(before.client->peerSubjectNames().front() == "localhost");
  checkExchange(before);  // the old connection still works on the old context

  SUBCASE("a bad new file changes nothing and says why") {
    config.tls.cert_file = pki().path("missing.pem");
    TlsContexts untouched = built;
    CHECK_FALSE(buildTlsContexts(config, &untouched, &error));
    CHECK(error == "tls.cert_file: cannot read \"" + pki().path("missing.pem") +
                       "\": No such file or directory");
    CHECK(untouched.server == built.server);
  }
}

TEST_CASE("tls: --check-config names the key, the file and the problem") {
  const TestPki& p = pki();
  TlsServerConfig c = serverConfig();

  c.cert_file = p.path("missing.pem");
  CHECK(serverError(c) ==
        "tls.cert_file: cannot read \"" + c.cert_file + "\": No such file or directory");
  c.cert_file = p.dir();
  CHECK(serverError(c) == "tls.cert_file: cannot read \"" + p.dir() + "\": Is a directory");
  c.cert_file = p.path("server.key");
  CHECK(serverError(c) == "tls.cert_file: \"" + c.cert_file + "\" holds no PEM certificate");

  c = serverConfig();
  c.key_file = p.path("server.pem");
  CHECK(serverError(c) == "tls.key_file: \"" + c.key_file + "\" holds no PEM private key");
  c.key_file = p.path("encrypted.key");
  CHECK(serverError(c).find("tls.key_file: \"" + c.key_file + "\" is encrypted") == 0);
  c.key_file = p.path("other.key");
  CHECK(serverError(c) == "tls.key_file: the key in \"" + c.key_file +
                              "\" does not match the certificate in \"" + c.cert_file +
                              "\" (tls.cert_file)");

  c = serverConfig("expired");
  const std::string expired = serverError(c);
  CHECK(expired.find("tls.cert_file: the certificate in \"" + c.cert_file + "\" expired on ") == 0);
  CHECK(expired.find(" UTC") != std::string::npos);
  c = serverConfig("future");
  CHECK(serverError(c).find("tls.cert_file: the certificate in \"" + c.cert_file +
                            "\" is not valid before ") == 0);

  c = serverConfig("server", ClientCerts::kRequire);
  c.ca_file = p.path("missing-ca.pem");
  CHECK(serverError(c).find("tls.ca_file: cannot read") == 0);

  c = serverConfig();
  c.ciphers = "NO-SUCH-CIPHER";
  CHECK(serverError(c).find("tls.ciphers: no usable cipher in \"NO-SUCH-CIPHER\"") == 0);
  c = serverConfig();
  c.ciphersuites = "TLS_NO_SUCH_SUITE";
  CHECK(serverError(c).find("tls.ciphersuites: no usable TLS 1.3 suite") == 0);

  UpstreamTlsConfig u = upstreamConfig("client");
  u.key_file = p.path("other.key");
  std::string error, warning;
  CHECK(TlsContext::forUpstream(u, &error, &warning) == nullptr);
  CHECK(error.find("upstream.tls_key_file: the key in") == 0);
  u = upstreamConfig();
  u.ca_file = p.path("missing-ca.pem");
  CHECK(TlsContext::forUpstream(u, &error, &warning) == nullptr);
  CHECK(error.find("upstream.tls_ca_file: cannot read") == 0);

  Config config;
  config.upstream.tls = upstreamConfig();
  config.upstream.tls.verify = false;
  TlsContexts built;
  REQUIRE(buildTlsContexts(config, &built, &error));
  CHECK(built.server == nullptr);
  CHECK(built.upstream != nullptr);
  REQUIRE(built.warnings.size() == 1);
  CHECK(built.warnings[0].find("upstream.tls_verify = false") == 0);
}

}  // namespace kw

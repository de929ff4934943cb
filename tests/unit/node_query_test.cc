// cluster::NodeQuery, the blocking client of the cluster source and the startup probe, over a Unix
// socket, plaintext and TLS (a TlsChannel server side on a thread of the test's), and a TLS
// handshake it must refuse. Certificates: tls_test_certs.h.
#include <doctest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "cluster/node_query.h"
#include "tls/tls_channel.h"
#include "tls/tls_context.h"
#include "tls_test_certs.h"

namespace kw {
namespace {

using test::TestPki;

const TestPki& pki() {
  static const TestPki instance;
  return instance;
}

std::shared_ptr<const TlsContext> serverContext(const std::string& cert) {
  TlsServerConfig c;
  c.enabled = true;
  c.cert_file = pki().path(cert + ".pem");
  c.key_file = pki().path(cert + ".key");
  std::string error;
  auto ctx = TlsContext::forServer(c, &error);
  INFO(error);
  REQUIRE(ctx != nullptr);
  return ctx;
}

std::shared_ptr<const TlsContext> clientContext() {
  UpstreamTlsConfig c;
  c.enabled = true;
  c.ca_file = pki().path("ca.pem");
  std::string error, warning;
  auto ctx = TlsContext::forUpstream(c, &error, &warning);
  INFO(error);
  REQUIRE(ctx != nullptr);
  return ctx;
}

// A listening Unix socket whose one connection answers each PING with +PONG (over TLS when a
// server context is given), on a thread, until the client closes.
class FakeRedis {
public:
  explicit FakeRedis(std::shared_ptr<const TlsContext> tls = nullptr) : tls_(std::move(tls)) {
    path_ = pki().dir() + "/fake-" + std::to_string(++count_) + ".sock";
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path_.data(), path_.size());
    std::memcpy(&addr_, &un, sizeof un);
    ::unlink(path_.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&un), sizeof un) == 0);
    REQUIRE(::listen(fd_, 4) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeRedis() {
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  FakeRedis(const FakeRedis&) = delete;
  FakeRedis& operator=(const FakeRedis&) = delete;

  const sockaddr_storage& address() const { return addr_; }

private:
  void serve() {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0)
      return;
    std::unique_ptr<TlsChannel> tls = tls_ ? TlsChannel::accept(tls_) : nullptr;
    std::string plain;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0)
        break;
      std::string out;
      if (tls) {
        tls->feedCiphertext(std::string_view(buf, static_cast<size_t>(n)));
        tls->readPlaintext(&plain);
      } else {
        plain.append(buf, static_cast<size_t>(n));
      }
      static constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";
      while (plain.compare(0, kPing.size(), kPing) == 0) {
        plain.erase(0, kPing.size());
        if (tls)
          tls->writePlaintext("+PONG\r\n");
        else
          out += "+PONG\r\n";
      }
      if (tls)
        tls->takeCiphertext(&out);
      if (!out.empty() && ::send(c, out.data(), out.size(), MSG_NOSIGNAL) < 0)
        break;
      if (tls && tls->failed())
        break;
    }
    ::close(c);
  }

  static inline int count_ = 0;
  std::shared_ptr<const TlsContext> tls_;
  std::string path_;
  sockaddr_storage addr_{};
  int fd_ = -1;
  std::thread thread_;
};

}  // namespace

TEST_CASE("node query: a Unix socket, plaintext") {
  FakeRedis redis;
  cluster::NodeQuery q;
  std::string error, reply;
  REQUIRE(q.connect(redis.address(), 2000, "", "", &error));
  CHECK(q.command({"PING"}, &reply, &error));
  CHECK(reply == "+PONG\r\n");
  CHECK(q.command({"PING"}, &reply, &error));
  CHECK(reply == "+PONG\r\n");
}

TEST_CASE("node query: TLS, the certificate verified against the server name") {
  FakeRedis redis(serverContext("server"));
  cluster::NodeTls tls{clientContext(), "localhost", "node-a"};
  cluster::NodeQuery q;
  std::string error, reply;
  INFO(error);
  REQUIRE(q.connect(redis.address(), 2000, "", "", &error, &tls));
  CHECK(q.command({"PING"}, &reply, &error));
  CHECK(reply == "+PONG\r\n");
}

TEST_CASE("node query: TLS with an untrusted certificate is refused, and says why") {
  FakeRedis redis(serverContext("rogue_server"));
  cluster::NodeTls tls{clientContext(), "localhost", "node-b"};
  cluster::NodeQuery q;
  std::string error;
  CHECK_FALSE(q.connect(redis.address(), 2000, "", "", &error, &tls));
  CHECK(error == "TLS handshake failed: certificate verify failed: unable to get local issuer "
                 "certificate");
  std::string reply;
  CHECK_FALSE(q.command({"PING"}, &reply, &error));
  CHECK(error == "not connected");
}

}  // namespace kw

// ClientTls (proxy/client_tls.h) over a real socket pair on a libuv loop, against a client
// TlsChannel: the handshake, plaintext both ways, a close_notify, plaintext sent to the TLS port,
// and the write side's back-pressure (ciphertext leaves only as the socket takes it, so the
// session's writer keeps what the client has not read).
#include <doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <memory>
#include <string>

#include "proxy/client_tls.h"
#include "proxy/out_queue.h"
#include "proxy/stream_writer.h"
#include "tls/tls_context.h"
#include "tls_test_certs.h"

namespace kw {
namespace {

const test::TestPki& pki() {
  static const test::TestPki instance;
  return instance;
}

std::shared_ptr<const TlsContext> serverContext() {
  TlsServerConfig c;
  c.enabled = true;
  c.cert_file = pki().path("server.pem");
  c.key_file = pki().path("server.key");
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

int fdOf(uv_pipe_t* pipe) {
  uv_os_fd_t fd = -1;
  uv_fileno(reinterpret_cast<uv_handle_t*>(pipe), &fd);
  return fd;
}

// keywarden's end (fd 0, on the loop, through ClientTls) and a client's (fd 1, a TlsChannel over
// non-blocking reads and writes).
struct Pair {
  uv_loop_t loop{};
  uv_pipe_t pipe{};
  int peer = -1;
  ChunkPool pool;
  StreamWriter writer;
  std::unique_ptr<ClientTls> tls;
  std::unique_ptr<TlsChannel> client;
  std::string client_out;                  // ciphertext the client has yet to send
  std::string server_plain, client_plain;  // what each side decrypted
  ClientTls::Progress last = ClientTls::Progress::kHandshaking;
  int established = 0;
  int write_done = 0;

  Pair() {
    int fds[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    peer = fds[1];
    fcntl(peer, F_SETFL, fcntl(peer, F_GETFL) | O_NONBLOCK);
    uv_loop_init(&loop);
    uv_pipe_init(&loop, &pipe, 0);
    REQUIRE(uv_pipe_open(&pipe, fds[0]) == 0);
    auto* stream = reinterpret_cast<uv_stream_t*>(&pipe);
    writer.init(stream, this, &Pair::onDone, &pool);
    tls = std::make_unique<ClientTls>(serverContext(), stream, this, &Pair::onDone);
    client = TlsChannel::connect(clientContext(), "localhost", "kw");
  }
  ~Pair() {
    tls.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&pipe), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    ::close(peer);
  }

  static void onDone(void* owner, int status) {
    auto* self = static_cast<Pair*>(owner);
    CHECK(status == 0);
    ++self->write_done;
    CHECK(self->tls->flush(&self->writer) == 0);  // as the session's flush on its next turn
  }

  // keywarden's side: what arrived, fed and read as Session::onTlsRead does.
  void serverTurn() {
    char buf[65536];
    const int fd = fdOf(&pipe);
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0)
        break;
      last = tls->feed(std::string_view(buf, static_cast<size_t>(n)));
      if (last == ClientTls::Progress::kEstablished)
        ++established;
      size_t got;
      while ((got = tls->read(buf, sizeof buf)) > 0)
        server_plain.append(buf, got);
    }
    CHECK(tls->flush(&writer) == 0);
    uv_run(&loop, UV_RUN_NOWAIT);
  }

  // The client's side: a partial write at most, and every byte it can read. `read`: false for a
  // client that does not read (its socket fills).
  void clientTurn(bool read = true) {
    client->takeCiphertext(&client_out);
    if (!client_out.empty()) {
      const ssize_t n = ::write(peer, client_out.data(), client_out.size());
      if (n > 0)
        client_out.erase(0, static_cast<size_t>(n));
    }
    if (!read)
      return;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(peer, buf, sizeof buf);
      if (n <= 0)
        break;
      client->feedCiphertext(std::string_view(buf, static_cast<size_t>(n)));
      client->readPlaintext(&client_plain);
    }
  }

  template <typename Done> void pumpUntil(Done done, int rounds = 20000) {
    for (int i = 0; i < rounds && !done(); ++i) {
      clientTurn();
      serverTurn();
    }
    REQUIRE(done());
  }

  void handshake() {
    pumpUntil([&] { return client->handshakeDone() && tls->established(); });
    CHECK(established == 1);
  }
};

}  // namespace

TEST_CASE("client tls: handshake, then requests and replies both ways") {
  Pair p;
  CHECK_FALSE(p.tls->established());
  p.handshake();
  CHECK(p.tls->channel().version() != "");
  CHECK_FALSE(p.tls->channel().peerVerified());  // client_certs = off: none asked for

  p.client->writePlaintext("*1\r\n$4\r\nPING\r\n");
  p.pumpUntil([&] { return p.server_plain.size() == 14; });
  CHECK(p.server_plain == "*1\r\n$4\r\nPING\r\n");
  CHECK(p.last == ClientTls::Progress::kOpen);  // kEstablished was said once

  p.writer.append("+PONG\r\n");
  p.pumpUntil([&] { return p.client_plain == "+PONG\r\n"; });
  CHECK(p.writer.buffered() == 0);
  CHECK(p.writer.written() == 7);
  p.pumpUntil([&] { return p.tls->idle(); });

  // A close_notify from keywarden reaches the client as its end of stream.
  p.tls->closeNotify();
  p.pumpUntil([&] { return p.client->peerClosed(); });
}

TEST_CASE("client tls: plaintext on the TLS port fails as not_tls") {
  Pair p;
  const std::string ping = "*1\r\n$4\r\nPING\r\n";
  REQUIRE(::write(p.peer, ping.data(), ping.size()) == static_cast<ssize_t>(ping.size()));
  p.serverTurn();
  CHECK(p.last == ClientTls::Progress::kFailed);
  CHECK(p.tls->channel().failureKind() == TlsChannel::Failure::kNotTls);
  CHECK(p.server_plain.empty());
}

TEST_CASE("client tls: a large reply leaves as the socket takes it, never encrypted whole") {
  Pair p;
  p.handshake();
  constexpr size_t kTotal = 8u << 20;
  std::string value(kTotal, '\0');
  for (size_t i = 0; i < kTotal; ++i)
    value[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  p.writer.append(value);

  // The client reads nothing: what left the writer is what the socket holds, plus one batch.
  for (int i = 0; i < 50; ++i) {
    p.clientTurn(/*read=*/false);
    p.serverTurn();
  }
  int sndbuf = 0, rcvbuf = 0;
  socklen_t len = sizeof sndbuf;
  getsockopt(fdOf(&p.pipe), SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
  getsockopt(p.peer, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
  const size_t taken = kTotal - p.writer.buffered();
  INFO("taken " << taken << ", socket buffers " << sndbuf << " + " << rcvbuf);
  CHECK(taken > 0);
  CHECK(taken <= static_cast<size_t>(sndbuf + rcvbuf) + 2 * ClientTls::kEncryptBatch);
  CHECK_FALSE(p.tls->idle());

  // Once the client reads, everything arrives, in order.
  p.pumpUntil([&] { return p.client_plain.size() >= kTotal; });
  CHECK(p.client_plain.size() == kTotal);
  CHECK(p.client_plain == value);
  CHECK(p.writer.buffered() == 0);
  p.pumpUntil([&] { return p.tls->idle(); });
  CHECK(p.write_done > 0);  // the kernel's buffer filled: the rest went by uv_write
}

TEST_CASE("client tls: a request fed one byte at a time") {
  Pair p;
  p.handshake();
  std::string request = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000\r\n" + std::string(1000, 'v') + "\r\n";
  p.client->writePlaintext(request);
  std::string cipher;
  p.client->takeCiphertext(&cipher);
  char buf[4096];
  for (char c : cipher) {
    CHECK(p.tls->feed(std::string_view(&c, 1)) == ClientTls::Progress::kOpen);
    size_t n;
    while ((n = p.tls->read(buf, sizeof buf)) > 0)
      p.server_plain.append(buf, n);
  }
  CHECK(p.server_plain == request);
}

}  // namespace kw

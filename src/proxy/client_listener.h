// The sockets clients connect to. Bound on the main thread at startup (an address in use, or a
// Unix socket something still answers on, fails startup with its reason), then listened on by
// each worker's loop.
//
//   listener  configured by                  sockets                           a client gets
//   plain     server.listen = "HOST:PORT"    one per worker, SO_REUSEPORT:     a plaintext session
//                                            the kernel spreads connections
//   Unix      server.listen = "unix:/PATH"   one, bound once (mode             a plaintext session,
//                                            server.unix_mode); every worker   addr=/PATH:0 as
//                                            listens on a dup of it            Redis shows it
//   TLS       [tls] listen = "HOST:PORT"     one per worker, SO_REUSEPORT      a TLS session
//                                                                              (client_tls.h)
//
// The Unix socket file at startup:
//   state of PATH                        what happens
//   absent                               bound
//   a socket nobody accepts on (stale)   connect() is refused: the file is removed and bound again
//   a socket something answers on        startup fails: "another process listens on PATH"
//   anything else (a file, a directory)  startup fails: keywarden never removes what it did not
//   make
// At exit the file is removed, if it is still the one this process made.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <string>

#include "common/net_address.h"

namespace kw {

enum class ListenerKind : uint8_t { kPlain, kUnix, kTls };

// A bound TCP socket for one worker (SO_REUSEPORT). With `probe`, first a bind without
// SO_REUSEPORT, which fails when anyone listens there already (SO_REUSEPORT alone would let a
// second keywarden of the same user share the port silently). `shown`: the address for messages.
bool bindTcpListener(const SocketAddress& addr, const std::string& shown, bool probe, int* fd,
                     std::string* error);

// The bound Unix socket at `path` with permissions `mode` (the table above); *inode identifies
// the file for removeUnixSocket.
bool bindUnixListener(const std::string& path, uint32_t mode, int* fd, ino_t* inode,
                      std::string* error);
// Removes the socket file at exit, unless another file has replaced it meanwhile.
void removeUnixSocket(const std::string& path, ino_t inode);

// One listening socket on one worker's loop. Owns the descriptor until start() hands it to libuv.
class ClientListener {
public:
  ClientListener(ListenerKind kind, int fd) : kind_(kind), fd_(fd) {}
  ~ClientListener();
  ClientListener(const ClientListener&) = delete;
  ClientListener& operator=(const ClientListener&) = delete;

  ListenerKind kind() const { return kind_; }
  void* owner() const { return owner_; }
  // The listener of a stream `on_connection` was called for.
  static ClientListener* of(uv_stream_t* server) {
    return static_cast<ClientListener*>(server->data);
  }
  // Listens on `loop`; `on_connection` gets this listener's stream (see of()).
  bool start(uv_loop_t* loop, uv_connection_cb on_connection, void* owner, std::string* error);
  // Stops accepting; the handle is closed by the loop (the listener must outlive that).
  void close();

private:
  ListenerKind kind_;
  int fd_;
  void* owner_ = nullptr;
  bool started_ = false;
  union Handle {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_{};
};

}  // namespace kw

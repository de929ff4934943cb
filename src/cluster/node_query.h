// A blocking RESP client for the cluster source's own thread (cluster_source.h) and the main
// thread's upstream probe (upstream_probe.h): connect with a timeout, AUTH, send a command, read
// its complete reply as raw bytes (what the slot map parsers take). Never used on a worker's loop.
//
//   transport     address             after connect
//   TCP           AF_INET / AF_INET6  TCP_NODELAY
//   Unix socket   AF_UNIX             -
//   TLS           AF_INET / AF_INET6  the handshake, blocking with the same timeout per wait
//                 with a NodeTls      (a TlsChannel over memory buffers, as the workers use it);
//                                     a failure says "TLS handshake failed: <reason>"
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tls/tls_channel.h"

namespace kw::cluster {

// TLS towards a node: the context of the configuration snapshot, the name the certificate must
// carry (and SNI), and the key its sessions are kept under for resumption ("host:port").
struct NodeTls {
  std::shared_ptr<const TlsContext> context;
  std::string server_name;
  std::string session_key;
};

class NodeQuery {
public:
  NodeQuery() = default;
  ~NodeQuery();
  NodeQuery(const NodeQuery&) = delete;
  NodeQuery& operator=(const NodeQuery&) = delete;

  // False with *error ("connection refused", "timed out", AUTH's error).
  // With `tls` (not null), the connection is TLS.
  bool connect(const sockaddr_storage& addr, uint32_t timeout_ms, std::string_view user,
               std::string_view password, std::string* error, const NodeTls* tls = nullptr);
  // The complete reply to `args`; false with *error when the connection fails or the reply is
  // not RESP. An error reply is a reply (true).
  bool command(const std::vector<std::string_view>& args, std::string* reply, std::string* error);
  void close();

private:
  bool handshake(std::string* error);
  // Writes all of `bytes` (ciphertext over TLS).
  bool sendAll(std::string_view bytes, std::string* error);
  // Writes whatever the channel has to say (a flight of the handshake, an alert).
  bool sendPending(std::string* error);
  // Waits for bytes and appends the plaintext they bring to *out (maybe none yet, over TLS).
  bool receive(std::string* out, std::string* error);
  bool failWith(std::string reason, std::string* error);

  int fd_ = -1;
  std::unique_ptr<TlsChannel> tls_;
  uint32_t timeout_ms_ = 1000;
};

// Host names are resolved here (managed clusters announce names): the first address, IPv4 first.
bool resolveNode(const std::string& host, uint16_t port, sockaddr_storage* out, std::string* error);

}  // namespace kw::cluster

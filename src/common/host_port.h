// An address as the configuration writes it ("host:port", or "unix:/path" where a Unix socket is
// allowed), before it is resolved (net_address.h). Its own header so that feature configs
// (tls_config.h) can hold one without including the whole Config.
#pragma once

#include <cstdint>
#include <string>

namespace kw {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  // Non-empty for "unix:<path>" (unix_address.h): a Unix domain socket; host and port unused.
  std::string unix_path = {};

  bool isUnix() const { return !unix_path.empty(); }
  // No address at all: server.listen = "" (no plaintext listener, TLS only).
  bool empty() const { return host.empty() && unix_path.empty(); }
};

}  // namespace kw

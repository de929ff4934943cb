// HOST:PORT -> socket address, the one way every address of the config is turned into one: the
// config loader checks with it that a file's addresses resolve (so --check-config and startup
// agree), and the listeners and the upstream connect use what it returns.
//
// Numeric addresses are taken as they are. A host name is resolved once, with getaddrinfo, and
// IPv4 is preferred when the name has both kinds of address, as Redis does for a `bind` name:
// "localhost" is 127.0.0.1 wherever it has that address. Resolution happens at load, startup and
// reload, never on the request path.
#pragma once

#include <sys/socket.h>

#include <string>

#include "common/config.h"

namespace kw {

enum class AddressUse {
  kListen,   // a local address to bind
  kConnect,  // a server to connect to
};

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  // "127.0.0.1" / "::1", without the port.
  std::string ip() const;
};

// False with *error (the resolver's reason, without the address echoed back) when `hp` does not
// resolve to any IPv4 or IPv6 address. A Unix socket address ("unix:/path") becomes its
// sockaddr_un; no name service is asked.
bool resolveHostPort(const HostPort& hp, AddressUse use, SocketAddress* out, std::string* error);

}  // namespace kw

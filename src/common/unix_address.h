// "unix:/path": a Unix domain socket where the configuration takes an address (server.listen,
// --listen, upstream.address). The text form and its checks; the socket address itself is made
// by resolveHostPort (net_address.h), the listening socket by client_listener.h, the connections
// to Redis by upstream_conn.h.
//
//   text                         result
//   unix:/run/keywarden/kw.sock  the path "/run/keywarden/kw.sock"
//   unix:kw.sock                 error: the path must be absolute (a service's working directory
//                                is not where an operator looks for its socket)
//   unix:                        error: no path
//   unix:/run/keywarden/         error: names a directory
//   a path of 108 bytes or more  error: longer than a socket path may be (sun_path: 107 + NUL)
//   a control character or NUL   error
//   anything not "unix:..."      not a Unix address (isUnixAddress is false): HOST:PORT rules
#pragma once

#include <sys/un.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace kw {

inline constexpr std::string_view kUnixAddressPrefix = "unix:";
inline constexpr size_t kMaxUnixPathBytes = sizeof(sockaddr_un::sun_path) - 1;

inline bool isUnixAddress(std::string_view text) {
  return text.substr(0, kUnixAddressPrefix.size()) == kUnixAddressPrefix;
}

// The path of "unix:<path>", or false and *error (the reason, without the input echoed back).
bool parseUnixAddress(std::string_view text, std::string* path, std::string* error);

}  // namespace kw

#include "common/net_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace kw {

std::string SocketAddress::ip() const {
  char text[INET6_ADDRSTRLEN] = "";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text,
              sizeof text);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text,
              sizeof text);
  }
  return text;
}

bool resolveHostPort(const HostPort& hp, AddressUse use, SocketAddress* out, std::string* error) {
  if (hp.isUnix()) {
    sockaddr_un un{};
    if (hp.unix_path.size() >= sizeof un.sun_path) {
      if (error != nullptr)
        *error = "the socket path is longer than 107 bytes";
      return false;
    }
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, hp.unix_path.data(), hp.unix_path.size());
    *out = SocketAddress{};
    memcpy(&out->storage, &un, sizeof un);
    out->length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + hp.unix_path.size() + 1);
    return true;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (use == AddressUse::kListen ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  const std::string port = std::to_string(hp.port);
  const int rc = getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    if (error != nullptr)
      *error = rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc != 0 ? rc : EAI_NONAME);
    if (res != nullptr)
      freeaddrinfo(res);
    return false;
  }
  const addrinfo* pick = nullptr;
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      pick = ai;
      break;
    }
    if (ai->ai_family == AF_INET6 && pick == nullptr)
      pick = ai;
  }
  if (pick == nullptr || pick->ai_addrlen > sizeof out->storage) {
    freeaddrinfo(res);
    if (error != nullptr)
      *error = "no IPv4 or IPv6 address";
    return false;
  }
  *out = SocketAddress{};
  memcpy(&out->storage, pick->ai_addr, pick->ai_addrlen);
  out->length = pick->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

}  // namespace kw

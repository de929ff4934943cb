// An address as the configuration writes it ("host:port"), before it is resolved
// (net_address.h). Its own header so that feature configs (tls_config.h) can hold one without
// including the whole Config.
#pragma once

#include <cstdint>
#include <string>

namespace kw {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

}  // namespace kw

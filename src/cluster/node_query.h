// A blocking RESP client for the cluster source's own thread (cluster_source.h): connect with a
// timeout, AUTH, send a command, read its complete reply as raw bytes (what the slot map parsers
// take). Never used on a worker's loop.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kw::cluster {

class NodeQuery {
public:
  NodeQuery() = default;
  ~NodeQuery();
  NodeQuery(const NodeQuery&) = delete;
  NodeQuery& operator=(const NodeQuery&) = delete;

  // False with *error ("connection refused", "timed out", AUTH's error).
  bool connect(const sockaddr_storage& addr, uint32_t timeout_ms, std::string_view user,
               std::string_view password, std::string* error);
  // The complete reply to `args`; false with *error when the connection fails or the reply is
  // not RESP. An error reply is a reply (true).
  bool command(const std::vector<std::string_view>& args, std::string* reply, std::string* error);
  void close();

private:
  int fd_ = -1;
  uint32_t timeout_ms_ = 1000;
};

// Host names are resolved here (managed clusters announce names): the first address, IPv4 first.
bool resolveNode(const std::string& host, uint16_t port, sockaddr_storage* out, std::string* error);

}  // namespace kw::cluster

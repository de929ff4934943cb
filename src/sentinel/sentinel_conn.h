// A blocking RESP connection to a sentinel, for the sentinel source's own threads
// (sentinel_source.h): connect with a timeout, AUTH, send commands, and read replies or Pub/Sub
// messages one frame at a time (several may arrive in one read: the rest stays buffered). Never
// used on a worker's loop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "proxy/reply_scanner.h"

namespace kw::sentinel {

class SentinelConn {
public:
  SentinelConn() = default;
  ~SentinelConn();
  SentinelConn(const SentinelConn&) = delete;
  SentinelConn& operator=(const SentinelConn&) = delete;

  // False with *error ("connection refused", "connect timeout", AUTH's error).
  bool connect(const HostPort& to, uint32_t timeout_ms, std::string_view user,
               std::string_view password, std::string* error);
  bool send(const std::vector<std::string_view>& args, std::string* error);
  enum class Read : uint8_t { kFrame, kTimeout, kError };
  // The next complete frame within timeout_ms; kError (with *error) closes the connection.
  Read next(std::string* frame, uint32_t timeout_ms, std::string* error);
  // send + next within the connect timeout: an error reply is a reply (true).
  bool command(const std::vector<std::string_view>& args, std::string* reply, std::string* error);
  void close();
  bool connected() const { return fd_ >= 0; }

  // Frames larger than this are not a sentinel's: the connection is dropped.
  static constexpr size_t kMaxFrame = 1u << 20;

private:
  int fd_ = -1;
  uint32_t timeout_ms_ = 1000;
  std::string buf_;
  ReplyScanner scanner_;
};

}  // namespace kw::sentinel

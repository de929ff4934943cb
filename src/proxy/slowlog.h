// Requests slower than a threshold, measured at the proxy from decode to reply. One log for the
// whole process behind a mutex: it is written only by slow requests and read by KEYWARDEN
// SLOWLOG (SLOWLOG itself is Redis's: it is forwarded).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kw {

struct SlowLogEntry {
  uint64_t id = 0;
  int64_t unix_time_s = 0;
  uint64_t duration_us = 0;
  std::vector<std::string> args;  // truncated like Redis: 32 args, 128 bytes each
  std::string client_addr;
  std::string client_name;
  std::string ns;  // namespace of the first key, "none" without one
};

class SlowLog {
public:
  // `raw` is the request as RESP (possibly cut short); the args are parsed from it tolerantly.
  void record(std::string_view raw, uint64_t duration_us, std::string_view client_addr,
              std::string_view client_name, std::string_view ns, size_t max_len);
  std::vector<SlowLogEntry> get(size_t count) const;  // newest first
  size_t size() const;
  void reset();

private:
  mutable std::mutex mu_;
  std::deque<SlowLogEntry> entries_;  // newest at the front
  uint64_t next_id_ = 0;
};

// KEYWARDEN SLOWLOG GET [count] | LEN | RESET: the complete reply (RESP, errors included) for
// `args`, the arguments after "SLOWLOG". GET entries are Redis's six fields plus the namespace
// of the first key; `count` as Redis's SLOWLOG GET takes it (default 10, -1 for all).
std::string slowlogCommandReply(SlowLog& log, std::span<const std::string_view> args);

// Parses the arguments of a RESP multibulk request that may be truncated.
std::vector<std::string> argsFromRawRequest(std::string_view raw, size_t max_args,
                                            size_t max_arg_len);

}  // namespace kw

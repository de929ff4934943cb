// At most one log line per key (a client address) per interval, for events a client can cause
// at will, such as a failed TLS handshake: a flood from one address costs one line per interval,
// and that line says how many were left out; other addresses are still heard.
//
//   allow(key, now)                        result
//   key not seen, or its last line was     true: log it; *suppressed = lines left out for the key
//   `interval_ms` or more ago              since its last one
//   key logged less than interval_ms ago   false: counted for its next line
//   table full (max_keys) and no entry     false: with the whole table busy, at most max_keys
//   old enough to forget                   lines are written per interval
//
// Thread-safe (one mutex: it is taken only when such an event happens). Time is passed in, so the
// unit tests drive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kw {

class LogLimiter {
public:
  LogLimiter(uint64_t interval_ms, size_t max_keys)
      : interval_ms_(interval_ms), max_keys_(max_keys) {}

  bool allow(std::string_view key, uint64_t now_ms, uint64_t* suppressed);

private:
  struct Entry {
    uint64_t last_ms = 0;
    uint64_t suppressed = 0;
  };
  // Forgets keys whose last line is an interval old (a count of lines left out goes with them:
  // the table stays bounded whatever addresses a flood comes from).
  void forgetOld(uint64_t now_ms);

  const uint64_t interval_ms_;
  const size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace kw

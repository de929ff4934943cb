// The seam for PostgreSQL read-through (its own issue): a source of cache values for keys of a
// read-through namespace. The session calls fetch() on a miss; the implementation (non-blocking
// libpq on the worker's loop, single-flight per key) calls back on the same loop. Closing a
// client cancels what it started. Nothing implements it yet.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace kw::pg {

struct RowResult {
  enum class Status { kFound, kMissing, kError } status = Status::kError;
  std::string value;  // kFound: the value to cache and return (JSON by default)
  std::string error;  // kError: why, for the client's error reply and the log
};

// Cancels the fetch when destroyed before the callback ran.
class FetchHandle {
public:
  virtual ~FetchHandle() = default;
};

class RowSource {
public:
  virtual ~RowSource() = default;
  // `done` runs on the calling worker's loop, at most once, never inside fetch().
  virtual std::unique_ptr<FetchHandle> fetch(std::string_view ns, std::string_view key,
                                             std::function<void(RowResult&&)> done) = 0;
};

}  // namespace kw::pg

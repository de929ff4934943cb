// Leveled logging to stderr. One write(2) per line so lines from different threads never
// interleave. The level check is an inline relaxed load, so disabled levels cost one compare and
// never evaluate the format arguments.
#pragma once

#include <atomic>
#include <string_view>

#include "common/config.h"

namespace kw {

namespace detail {
extern std::atomic<int> g_log_level;
}  // namespace detail

void setLogLevel(LogLevel level);
LogLevel logLevel();

inline bool logEnabled(LogLevel level) {
  return static_cast<int>(level) >= detail::g_log_level.load(std::memory_order_relaxed);
}

// Tag printed as "[name]" on every line from the calling thread; nullptr or "" clears it.
// The string is copied (truncated to 31 bytes).
void setThreadLogName(const char* name);

// Formats and writes unconditionally; use the KW_LOG_* macros instead.
void logWrite(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// "debug" | "info" | "warn" | "error" (exact, lowercase).
bool parseLogLevel(std::string_view text, LogLevel* out);
const char* logLevelName(LogLevel level);

}  // namespace kw

#define KW_LOG_AT(level, ...)                                                                      \
  do {                                                                                             \
    if (::kw::logEnabled(level))                                                                   \
      ::kw::logWrite(level, __VA_ARGS__);                                                          \
  } while (0)

#define KW_LOG_DEBUG(...) KW_LOG_AT(::kw::LogLevel::kDebug, __VA_ARGS__)
#define KW_LOG_INFO(...) KW_LOG_AT(::kw::LogLevel::kInfo, __VA_ARGS__)
#define KW_LOG_WARN(...) KW_LOG_AT(::kw::LogLevel::kWarn, __VA_ARGS__)
#define KW_LOG_ERROR(...) KW_LOG_AT(::kw::LogLevel::kError, __VA_ARGS__)

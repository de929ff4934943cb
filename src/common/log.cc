#include "common/log.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <unistd.h>

namespace kw {

namespace detail {
std::atomic<int> g_log_level{static_cast<int>(LogLevel::kInfo)};
}  // namespace detail

namespace {

// Longer messages are cut: a log line must stay a line, and a hostile client value (key, name)
// must not be able to make one write huge.
constexpr size_t kMaxMessage = 4096;
constexpr size_t kMaxThreadName = 32;

thread_local char t_thread_name[kMaxThreadName] = "";

char levelLetter(LogLevel level) {
  switch (level) {
  case LogLevel::kDebug:
    return 'D';
  case LogLevel::kInfo:
    return 'I';
  case LogLevel::kWarn:
    return 'W';
  case LogLevel::kError:
    return 'E';
  }
  return '?';
}

}  // namespace

void setLogLevel(LogLevel level) {
  detail::g_log_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel logLevel() {
  return static_cast<LogLevel>(detail::g_log_level.load(std::memory_order_relaxed));
}

void setThreadLogName(const char* name) {
  if (name == nullptr)
    name = "";
  snprintf(t_thread_name, sizeof(t_thread_name), "%s", name);
}

void logWrite(LogLevel level, const char* fmt, ...) {
  char msg[kMaxMessage];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (n < 0)
    n = 0;
  bool truncated = static_cast<size_t>(n) >= sizeof(msg);
  size_t msg_len = truncated ? sizeof(msg) - 1 : static_cast<size_t>(n);

  // Worst case every message byte becomes a 4-byte escape.
  char line[kMaxMessage * 4 + 128];
  size_t pos = 0;

  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm utc{};
  gmtime_r(&ts.tv_sec, &utc);
  pos += snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %c ", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                  static_cast<int>(ts.tv_nsec / 1000000), levelLetter(level));
  if (t_thread_name[0] != '\0') {
    pos += snprintf(line + pos, sizeof(line) - pos, "[%s] ", t_thread_name);
  }

  // Control bytes are escaped so that untrusted data inside a message cannot forge log lines.
  static const char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < msg_len; i++) {
    unsigned char c = static_cast<unsigned char>(msg[i]);
    if (c < 0x20 || c == 0x7f) {
      line[pos++] = '\\';
      line[pos++] = 'x';
      line[pos++] = kHex[c >> 4];
      line[pos++] = kHex[c & 0xf];
    } else {
      line[pos++] = static_cast<char>(c);
    }
  }
  if (truncated) {
    static const char kMark[] = "...(truncated)";
    memcpy(line + pos, kMark, sizeof(kMark) - 1);
    pos += sizeof(kMark) - 1;
  }
  line[pos++] = '\n';

  size_t off = 0;
  while (off < pos) {
    ssize_t w = write(STDERR_FILENO, line + off, pos - off);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return;  // Nowhere to report a failing stderr.
    }
    off += static_cast<size_t>(w);
  }
}

bool parseLogLevel(std::string_view text, LogLevel* out) {
  static constexpr struct {
    std::string_view name;
    LogLevel level;
  } kLevels[] = {{"debug", LogLevel::kDebug},
                 {"info", LogLevel::kInfo},
                 {"warn", LogLevel::kWarn},
                 {"error", LogLevel::kError}};
  for (const auto& l : kLevels) {
    if (text == l.name) {
      *out = l.level;
      return true;
    }
  }
  return false;
}

const char* logLevelName(LogLevel level) {
  switch (level) {
  case LogLevel::kDebug:
    return "debug";
  case LogLevel::kInfo:
    return "info";
  case LogLevel::kWarn:
    return "warn";
  case LogLevel::kError:
    return "error";
  }
  return "unknown";
}

}  // namespace kw

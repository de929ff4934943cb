#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#include <doctest.h>

#include "common/log.h"

namespace kw {
namespace {

// Runs fn with stderr redirected into a pipe and returns what it wrote.
template <typename Fn> std::string captureStderr(Fn&& fn) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  close(fds[1]);
  fn();
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0)
    out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  return out;
}

// The rest of a log line after its "YYYY-MM-DDTHH:MM:SS.mmmZ " timestamp, or nullopt when the
// line does not start with one. Checked by hand: std::regex makes GCC 12 warn
// (-Wmaybe-uninitialized) inside its own std::function members.
std::optional<std::string> afterTimestamp(std::string_view line) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ ";
  if (line.size() < kShape.size())
    return std::nullopt;
  for (size_t i = 0; i < kShape.size(); ++i) {
    const bool ok = kShape[i] == 'd' ? line[i] >= '0' && line[i] <= '9' : line[i] == kShape[i];
    if (!ok)
      return std::nullopt;
  }
  return std::string(line.substr(kShape.size()));
}

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return out;
}

TEST_CASE("log: format, level filter, thread tag, escaping") {
  LogLevel saved = logLevel();
  setLogLevel(LogLevel::kInfo);
  int evaluated = 0;
  std::string out = captureStderr([&] {
    KW_LOG_DEBUG("hidden %d", ++evaluated);
    KW_LOG_INFO("plain");
    setThreadLogName("worker 1");
    KW_LOG_WARN("two\nlines %s", "x");
    KW_LOG_ERROR("e");
    setThreadLogName(nullptr);
  });
  setLogLevel(saved);
  CHECK(evaluated == 0);  // arguments of a disabled level are not evaluated
  INFO(out);
  REQUIRE(!out.empty());
  CHECK(out.back() == '\n');
  const std::vector<std::string_view> got = lines(out);
  REQUIRE(got.size() == 3);
  CHECK(afterTimestamp(got[0]) == "I plain");
  CHECK(afterTimestamp(got[1]) == "W [worker 1] two\\x0alines x");
  CHECK(afterTimestamp(got[2]) == "E [worker 1] e");
  CHECK_FALSE(afterTimestamp("2026-01-01 00:00:00.000Z I x"));
}

TEST_CASE("log: long messages are cut to one line") {
  std::string out =
      captureStderr([] { logWrite(LogLevel::kError, "%s", std::string(9000, 'a').c_str()); });
  CHECK(out.size() < 4200);
  CHECK(out.find("...(truncated)\n") != std::string::npos);
  CHECK(out.find('\n') == out.size() - 1);
}

TEST_CASE("log: level names") {
  LogLevel l;
  CHECK(parseLogLevel("debug", &l));
  CHECK(l == LogLevel::kDebug);
  CHECK(parseLogLevel("error", &l));
  CHECK(l == LogLevel::kError);
  CHECK_FALSE(parseLogLevel("Warn", &l));
  CHECK_FALSE(parseLogLevel("", &l));
  CHECK(std::string(logLevelName(LogLevel::kWarn)) == "warn");
}

}  // namespace
}  // namespace kw

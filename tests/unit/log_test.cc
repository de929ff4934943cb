#include <cstdio>
#include <regex>
#include <string>
#include <unistd.h>

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
  std::regex expected(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z I plain
\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z W \[worker 1\] two\\x0alines x
\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z E \[worker 1\] e
)");
  CHECK_MESSAGE(std::regex_match(out, expected), out);
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

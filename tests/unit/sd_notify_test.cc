#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <doctest.h>

#include "common/log.h"
#include "common/sd_notify.h"
#include "proxy/service_manager.h"

namespace kw {
namespace {

// A datagram socket standing in for systemd's notification socket, bound to a name spelled as
// NOTIFY_SOCKET spells it: "@name" (abstract) or an absolute path.
class FakeNotifySocket {
public:
  explicit FakeNotifySocket(std::string name) : name_(std::move(name)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(name_.size() < sizeof addr.sun_path);
    memcpy(addr.sun_path, name_.data(), name_.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    if (name_[0] == '@')
      addr.sun_path[0] = '\0';
    else
      len += 1;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  }
  ~FakeNotifySocket() {
    ::close(fd_);
    if (name_[0] == '/')
      ::unlink(name_.c_str());
  }
  const std::string& name() const { return name_; }
  // The next datagram, or "" when none arrives within timeout_ms.
  std::string receive(int timeout_ms = 1000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1)
      return "";
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

private:
  std::string name_;
  int fd_ = -1;
};

std::string uniqueAbstractName(const char* tag) {
  static int n = 0;
  return "@keywarden-test-" + std::string(tag) + "-" + std::to_string(getpid()) + "-" +
         std::to_string(++n);
}

// Sets an environment variable for the life of the object (unset again after).
class ScopedEnv {
public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { unsetenv(name_); }

private:
  const char* name_;
};

TEST_CASE("sd_notify: a datagram to an abstract socket (@name)") {
  FakeNotifySocket sock(uniqueAbstractName("abstract"));
  std::string error;
  REQUIRE(sdNotifyTo(sock.name(), "READY=1\nSTATUS=serving", &error));
  CHECK(error.empty());
  CHECK(sock.receive() == "READY=1\nSTATUS=serving");
}

TEST_CASE("sd_notify: a datagram to a socket path") {
  char dir[] = "/tmp/kw-sdnotify-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  {
    FakeNotifySocket sock(std::string(dir) + "/notify");
    std::string error;
    REQUIRE(sdNotifyTo(sock.name(), "WATCHDOG=1", &error));
    CHECK(sock.receive() == "WATCHDOG=1");
  }
  rmdir(dir);
}

TEST_CASE("sd_notify: NOTIFY_SOCKET decides where, and its absence makes every call a no-op") {
  unsetenv("NOTIFY_SOCKET");
  CHECK_FALSE(sdNotifyEnabled());
  std::string error;
  CHECK_FALSE(sdNotify("READY=1", &error));
  CHECK(error.empty());  // not an error: nobody asked for notifications

  FakeNotifySocket sock(uniqueAbstractName("env"));
  ScopedEnv env("NOTIFY_SOCKET", sock.name());
  CHECK(sdNotifyEnabled());
  REQUIRE(sdNotify("STOPPING=1"));
  CHECK(sock.receive() == "STOPPING=1");
}

TEST_CASE("sd_notify: unusable socket names and absent listeners are errors, not crashes") {
  std::string error;
  CHECK_FALSE(sdNotifyTo("relative/path", "READY=1", &error));
  CHECK(error.find("neither a path") != std::string::npos);
  CHECK_FALSE(sdNotifyTo("", "READY=1", &error));
  CHECK_FALSE(sdNotifyTo("@", "READY=1", &error));
  CHECK_FALSE(sdNotifyTo("/" + std::string(200, 'x'), "READY=1", &error));
  CHECK(error.find("longer") != std::string::npos);
  error.clear();
  CHECK_FALSE(sdNotifyTo("/nonexistent-dir/keywarden-notify", "READY=1", &error));
  CHECK(error.find("NOTIFY_SOCKET") != std::string::npos);
  CHECK_FALSE(sdNotifyTo(uniqueAbstractName("nobody"), "READY=1", &error));
}

TEST_CASE("sd_notify: WATCHDOG_USEC counts only when WATCHDOG_PID is unset or this process") {
  CHECK(parseWatchdogUsec(nullptr, nullptr, 42) == 0);
  CHECK(parseWatchdogUsec("30000000", nullptr, 42) == 30000000);
  CHECK(parseWatchdogUsec("30000000", "", 42) == 30000000);
  CHECK(parseWatchdogUsec("30000000", "42", 42) == 30000000);
  CHECK(parseWatchdogUsec("30000000", "41", 42) == 0);
  CHECK(parseWatchdogUsec("30000000", "4x", 42) == 0);
  CHECK(parseWatchdogUsec("", nullptr, 42) == 0);
  CHECK(parseWatchdogUsec("-5", nullptr, 42) == 0);
  CHECK(parseWatchdogUsec("12abc", nullptr, 42) == 0);
  CHECK(parseWatchdogUsec("99999999999999999999999", nullptr, 42) == 0);

  ScopedEnv usec("WATCHDOG_USEC", "2000000");
  ScopedEnv pid("WATCHDOG_PID", std::to_string(getpid()));
  CHECK(sdWatchdogUsec() == 2000000);
}

TEST_CASE("sd_notify: RELOADING=1 carries the monotonic timestamp systemd 253+ expects") {
  const std::string m = sdReloadingMessage();
  REQUIRE(m.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
  const std::string usec = m.substr(m.find('=', 12) + 1);
  CHECK_FALSE(usec.empty());
  CHECK(usec.find_first_not_of("0123456789") == std::string::npos);
}

TEST_CASE("service manager: ready when every worker listens, fresh while every loop ticks") {
  CHECK_FALSE(allListening({}));
  CHECK_FALSE(allListening({5, 0}));
  CHECK(allListening({5, 7}));
  CHECK(allFresh({9000, 9500}, 10000, 2500));
  CHECK_FALSE(allFresh({9000, 7000}, 10000, 2500));  // one stuck worker is enough
  CHECK_FALSE(allFresh({9000, 0}, 10000, 2500));
  CHECK(allFresh({10001}, 10000, 2500));  // stamped after "now" was read

  CHECK(watchdogTiming(0).ping_ms == 0);
  const WatchdogTiming t30 = watchdogTiming(30000000);
  CHECK(t30.ping_ms == 10000);
  CHECK(t30.max_age_ms == 15000);
  const WatchdogTiming t1 = watchdogTiming(1000000);  // shorter than housekeeping can prove
  CHECK(t1.ping_ms == 333);
  CHECK(t1.max_age_ms == 2500);
  CHECK(watchdogTiming(90000).ping_ms == 100);
}

// Runs `loop` until `sock` receives a datagram or timeout_ms passes.
std::string runUntilMessage(uv_loop_t* loop, FakeNotifySocket& sock, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    uv_run(loop, UV_RUN_NOWAIT);
    std::string m = sock.receive(10);
    if (!m.empty())
      return m;
  }
  return "";
}

TEST_CASE(
    "service manager: READY, WATCHDOG only while fresh, RELOADING around a reload, STOPPING") {
  FakeNotifySocket sock(uniqueAbstractName("link"));
  ScopedEnv env("NOTIFY_SOCKET", sock.name());
  ScopedEnv watchdog("WATCHDOG_USEC", "300000");  // ping every 100 ms; heartbeats fresh 2.5 s

  const LogLevel saved_level = logLevel();
  setLogLevel(LogLevel::kError);  // the stuck worker below is warned about at every ping
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<uint64_t> beats = {0, 0};
  {
    ServiceManagerLink link(&loop, [&beats] { return beats; });
    link.start("serving on 127.0.0.1:1 with 2 workers");

    CHECK(runUntilMessage(&loop, sock, 200) == "");  // no worker listens yet
    beats[0] = uv_hrtime() / 1000000;
    CHECK(runUntilMessage(&loop, sock, 200) == "");  // one of two
    beats[1] = uv_hrtime() / 1000000;
    CHECK(runUntilMessage(&loop, sock, 1000) ==
          "READY=1\nSTATUS=serving on 127.0.0.1:1 with 2 workers");
    CHECK(runUntilMessage(&loop, sock, 1000) == "WATCHDOG=1");

    beats[1] = uv_hrtime() / 1000000 - 10000;  // worker 1's loop is stuck
    while (!sock.receive(0).empty()) {
    }
    CHECK(runUntilMessage(&loop, sock, 400) == "");
    beats[1] = uv_hrtime() / 1000000;
    CHECK(runUntilMessage(&loop, sock, 1000) == "WATCHDOG=1");

    link.reloading();
    std::string m = sock.receive();
    while (m == "WATCHDOG=1")
      m = sock.receive();
    CHECK(m.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
    link.reloaded(false, "x.toml:3: bad\nvalue");
    CHECK(sock.receive() == "READY=1\nSTATUS=serving on 127.0.0.1:1 with 2 workers; reload "
                            "failed, configuration unchanged: x.toml:3: bad value");

    link.stopping();
    m = sock.receive();
    while (m == "WATCHDOG=1")
      m = sock.receive();
    CHECK(m == "STOPPING=1\nSTATUS=draining");
    CHECK(runUntilMessage(&loop, sock, 400) == "");  // no watchdog after STOPPING
    uv_walk(
        &loop, [](uv_handle_t* h, void*) { uv_close(h, nullptr); }, nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  CHECK(uv_loop_close(&loop) == 0);
  setLogLevel(saved_level);
}

TEST_CASE("service manager: without NOTIFY_SOCKET nothing is started or sent") {
  unsetenv("NOTIFY_SOCKET");
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    ServiceManagerLink link(&loop, [] { return std::vector<uint64_t>{1}; });
    link.start("serving");
    link.reloading();
    link.reloaded(true, "");
    link.stopping();
    CHECK(uv_loop_alive(&loop) == 0);  // no timer
  }
  CHECK(uv_loop_close(&loop) == 0);
}

}  // namespace
}  // namespace kw

#include "sentinel/sentinel_conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/net_address.h"
#include "proxy/resp_writer.h"

namespace kw::sentinel {
namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// 1: ready, 0: timed out, -1: error.
int waitFor(int fd, short events, int64_t timeout_ms) {
  pollfd p{fd, events, 0};
  int rc = 0;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout_ms < 0 ? 0 : timeout_ms));
  } while (rc < 0 && errno == EINTR);
  return rc > 0 ? 1 : rc == 0 ? 0 : -1;
}

}  // namespace

SentinelConn::~SentinelConn() {
  close();
}

void SentinelConn::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
  buf_.clear();
  scanner_.reset();
}

bool SentinelConn::connect(const HostPort& to, uint32_t timeout_ms, std::string_view user,
                           std::string_view password, std::string* error) {
  close();
  timeout_ms_ = timeout_ms;
  SocketAddress addr;
  if (!resolveHostPort(to, AddressUse::kConnect, &addr, error))
    return false;
  fd_ = ::socket(addr.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    *error = std::strerror(errno);
    return false;
  }
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr.storage), addr.length) != 0 &&
      errno != EINPROGRESS) {
    *error = std::strerror(errno);
    close();
    return false;
  }
  if (waitFor(fd_, POLLOUT, timeout_ms) != 1) {
    *error = "connect timeout";
    close();
    return false;
  }
  int err = 0;
  socklen_t err_len = sizeof err;
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (err != 0) {
    *error = std::strerror(err);
    close();
    return false;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (password.empty())
    return true;
  std::vector<std::string_view> auth{"AUTH"};
  if (!user.empty())
    auth.push_back(user);
  auth.push_back(password);
  std::string reply;
  if (!command(auth, &reply, error))
    return false;
  if (reply != "+OK\r\n") {
    const size_t eol = reply.find('\r');
    *error =
        "AUTH: " + reply.substr(0, eol == std::string::npos ? 200 : std::min<size_t>(eol, 200));
    close();
    return false;
  }
  return true;
}

bool SentinelConn::send(const std::vector<std::string_view>& args, std::string* error) {
  if (fd_ < 0) {
    *error = "not connected";
    return false;
  }
  std::string out;
  resp::arrayHeader(&out, static_cast<int64_t>(args.size()));
  for (std::string_view a : args)
    resp::bulk(&out, a);
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      *error = std::strerror(errno);
      close();
      return false;
    }
    if (waitFor(fd_, POLLOUT, timeout_ms_) != 1) {
      *error = "write timeout";
      close();
      return false;
    }
  }
  return true;
}

SentinelConn::Read SentinelConn::next(std::string* frame, uint32_t timeout_ms, std::string* error) {
  if (fd_ < 0) {
    *error = "not connected";
    return Read::kError;
  }
  const int64_t deadline = nowMs() + timeout_ms;
  char chunk[16384];
  for (;;) {
    if (!buf_.empty()) {
      ReplyScanner::Frame f;
      const ReplyScanner::Status st = scanner_.scan(buf_, &f);
      if (st == ReplyScanner::Status::kComplete) {
        frame->assign(buf_, 0, f.length);
        buf_.erase(0, f.length);
        scanner_.reset();
        return Read::kFrame;
      }
      if (st == ReplyScanner::Status::kError) {
        *error = std::string("bad reply: ") + scanner_.error();
        close();
        return Read::kError;
      }
      if (buf_.size() > kMaxFrame) {
        *error = "reply too large";
        close();
        return Read::kError;
      }
    }
    const int ready = waitFor(fd_, POLLIN, deadline - nowMs());
    if (ready == 0)
      return Read::kTimeout;
    if (ready < 0) {
      *error = std::strerror(errno);
      close();
      return Read::kError;
    }
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n == 0) {
      *error = "connection closed";
      close();
      return Read::kError;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      *error = std::strerror(errno);
      close();
      return Read::kError;
    }
    buf_.append(chunk, static_cast<size_t>(n));
  }
}

bool SentinelConn::command(const std::vector<std::string_view>& args, std::string* reply,
                           std::string* error) {
  if (!send(args, error))
    return false;
  switch (next(reply, timeout_ms_, error)) {
  case Read::kFrame:
    return true;
  case Read::kTimeout:
    *error = "read timeout";
    close();
    return false;
  case Read::kError:
    return false;
  }
  return false;
}

}  // namespace kw::sentinel

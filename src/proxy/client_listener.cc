#include "proxy/client_listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace kw {
namespace {

std::string quoted(const std::string& path) {
  std::string out = "\"";
  for (char c : path)
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out + "\"";
}

SocketAddress unixAddress(const std::string& path) {
  HostPort hp;
  hp.unix_path = path;
  SocketAddress addr;
  resolveHostPort(hp, AddressUse::kListen, &addr, nullptr);  // checked by the config loader
  return addr;
}

// Whether a process accepts on the socket file `path`: 1 yes, 0 no (refused: stale), -1 cannot
// tell (*error says why).
int somethingListens(const SocketAddress& addr, const std::string& path, std::string* error) {
  // Non-blocking: a listener whose backlog is full answers EAGAIN instead of making us wait.
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return -1;
  }
  const int rc = ::connect(probe, addr.get(), addr.length);
  const int err = errno;
  ::close(probe);
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS)
    return 1;
  if (err == ECONNREFUSED)
    return 0;
  *error = "cannot tell whether a process listens on " + quoted(path) + ": " + strerror(err);
  return -1;
}

}  // namespace

bool bindTcpListener(const SocketAddress& addr, const std::string& shown, bool probe, int* fd,
                     std::string* error) {
  if (probe) {
    const int p = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int yes = 1;
    if (p >= 0) {
      setsockopt(p, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      const int rc = ::bind(p, addr.get(), addr.length);
      const int err = errno;
      ::close(p);
      if (rc != 0) {
        *error = "bind " + shown + ": " + strerror(err) +
                 (err == EADDRINUSE ? " (another keywarden or another program listens there)" : "");
        return false;
      }
    }
  }
  const int s = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return false;
  }
  const int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (::bind(s, addr.get(), addr.length) != 0) {
    *error = "bind " + shown + ": " + strerror(errno);
    ::close(s);
    return false;
  }
  *fd = s;
  return true;
}

bool bindUnixListener(const std::string& path, uint32_t mode, int* fd, ino_t* inode,
                      std::string* error) {
  const SocketAddress addr = unixAddress(path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = "listen " + quoted(path) +
               ": the file exists and is not a socket (keywarden replaces only a stale socket)";
      return false;
    }
    const int listens = somethingListens(addr, path, error);
    if (listens < 0)
      return false;
    if (listens > 0) {
      *error = "listen " + quoted(path) +
               ": another process listens on this socket (another keywarden, or a Redis?)";
      return false;
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      *error = "cannot remove the stale socket " + quoted(path) + ": " + strerror(errno);
      return false;
    }
    KW_LOG_INFO("removed the stale socket file %s (nothing listened on it)", path.c_str());
  } else if (errno != ENOENT) {
    *error = "listen " + quoted(path) + ": " + strerror(errno);
    return false;
  }
  const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return false;
  }
  // Nobody can connect before listen(), which the workers call later: the mode is in place first.
  if (::bind(s, addr.get(), addr.length) != 0) {
    *error = "bind " + quoted(path) + ": " + strerror(errno);
    ::close(s);
    return false;
  }
  if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0 || ::lstat(path.c_str(), &st) != 0) {
    *error = "chmod " + quoted(path) + ": " + strerror(errno);
    ::close(s);
    ::unlink(path.c_str());
    return false;
  }
  *fd = s;
  *inode = st.st_ino;
  return true;
}

void removeUnixSocket(const std::string& path, ino_t inode) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == inode)
    ::unlink(path.c_str());
}

ClientListener::~ClientListener() {
  if (!started_ && fd_ >= 0)
    ::close(fd_);
}

bool ClientListener::start(uv_loop_t* loop, uv_connection_cb on_connection, void* owner,
                           std::string* error) {
  owner_ = owner;
  started_ = true;  // the handle is initialised: only uv_close may end it
  int rc;
  if (kind_ == ListenerKind::kUnix) {
    uv_pipe_init(loop, &handle_.pipe, 0);
    rc = uv_pipe_open(&handle_.pipe, fd_);
  } else {
    uv_tcp_init(loop, &handle_.tcp);
    rc = uv_tcp_open(&handle_.tcp, fd_);
  }
  auto* stream = reinterpret_cast<uv_stream_t*>(&handle_);
  stream->data = this;
  if (rc != 0) {
    ::close(fd_);  // not taken by libuv
    *error = std::string("cannot use the listening socket: ") + uv_strerror(rc);
    return false;
  }
  rc = uv_listen(stream, 511, on_connection);
  if (rc != 0) {
    *error = std::string("listen failed: ") + uv_strerror(rc);
    return false;
  }
  return true;
}

void ClientListener::close() {
  auto* handle = reinterpret_cast<uv_handle_t*>(&handle_);
  if (started_ && !uv_is_closing(handle))
    uv_close(handle, nullptr);
}

}  // namespace kw

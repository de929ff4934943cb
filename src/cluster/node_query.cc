#include "cluster/node_query.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proxy/reply_scanner.h"
#include "proxy/resp_writer.h"

namespace kw::cluster {
namespace {

bool waitFor(int fd, short events, uint32_t timeout_ms) {
  pollfd p{fd, events, 0};
  int rc = 0;
  do {
    rc = ::poll(&p, 1, static_cast<int>(timeout_ms));
  } while (rc < 0 && errno == EINTR);
  return rc > 0;
}

}  // namespace

NodeQuery::~NodeQuery() {
  close();
}

void NodeQuery::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
  tls_.reset();
}

bool NodeQuery::failWith(std::string reason, std::string* error) {
  *error = std::move(reason);
  close();
  return false;
}

bool NodeQuery::connect(const sockaddr_storage& addr, uint32_t timeout_ms, std::string_view user,
                        std::string_view password, std::string* error, const NodeTls* tls) {
  close();
  timeout_ms_ = timeout_ms;
  fd_ = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    return failWith(std::strerror(errno), error);
  socklen_t len = sizeof(sockaddr_in);
  if (addr.ss_family == AF_INET6)
    len = sizeof(sockaddr_in6);
  else if (addr.ss_family == AF_UNIX)
    len = sizeof(sockaddr_un);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS)
    return failWith(std::strerror(errno), error);
  if (!waitFor(fd_, POLLOUT, timeout_ms))
    return failWith("connect timeout", error);
  int err = 0;
  socklen_t err_len = sizeof err;
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (err != 0)
    return failWith(std::strerror(err), error);
  if (addr.ss_family != AF_UNIX) {
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (tls != nullptr) {
    tls_ = TlsChannel::connect(tls->context, tls->server_name, tls->session_key);
    if (!handshake(error))
      return false;
  }
  if (password.empty())
    return true;
  std::vector<std::string_view> auth{"AUTH"};
  if (!user.empty())
    auth.push_back(user);
  auth.push_back(password);
  std::string reply;
  if (!command(auth, &reply, error))
    return false;
  if (reply != "+OK\r\n")
    return failWith("AUTH: " + reply.substr(0, reply.find('\r')), error);
  return true;
}

bool NodeQuery::handshake(std::string* error) {
  char buf[16384];
  for (;;) {
    if (!sendPending(error))
      return false;
    if (tls_->failed())
      return failWith("TLS handshake failed: " + tls_->failureReason(), error);
    if (tls_->handshakeDone())
      return true;
    if (!waitFor(fd_, POLLIN, timeout_ms_))
      return failWith("TLS handshake timeout", error);
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0)
      return failWith("TLS handshake failed: connection closed", error);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      return failWith(std::strerror(errno), error);
    }
    tls_->feedCiphertext(std::string_view(buf, static_cast<size_t>(n)));
  }
}

bool NodeQuery::sendPending(std::string* error) {
  if (!tls_ || !tls_->hasCiphertext())
    return true;
  std::string out;
  tls_->takeCiphertext(&out);
  return sendAll(out, error);
}

bool NodeQuery::sendAll(std::string_view bytes, std::string* error) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return failWith(std::strerror(errno), error);
    if (!waitFor(fd_, POLLOUT, timeout_ms_))
      return failWith("write timeout", error);
  }
  return true;
}

bool NodeQuery::receive(std::string* out, std::string* error) {
  char buf[16384];
  if (!waitFor(fd_, POLLIN, timeout_ms_))
    return failWith("read timeout", error);
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n == 0)
    return failWith("connection closed", error);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR)
      return true;
    return failWith(std::strerror(errno), error);
  }
  if (!tls_) {
    out->append(buf, static_cast<size_t>(n));
    return true;
  }
  tls_->feedCiphertext(std::string_view(buf, static_cast<size_t>(n)));
  tls_->readPlaintext(out);
  if (tls_->failed())
    return failWith("TLS error: " + tls_->failureReason(), error);
  if (tls_->peerClosed())
    return failWith("connection closed", error);
  return sendPending(error);  // answers to key updates
}

bool NodeQuery::command(const std::vector<std::string_view>& args, std::string* reply,
                        std::string* error) {
  if (fd_ < 0) {
    *error = "not connected";
    return false;
  }
  std::string out;
  resp::arrayHeader(&out, static_cast<int64_t>(args.size()));
  for (std::string_view a : args)
    resp::bulk(&out, a);
  if (tls_) {
    if (tls_->writePlaintext(out) != out.size())
      return failWith("TLS error: " + tls_->failureReason(), error);
    if (!sendPending(error))
      return false;
  } else if (!sendAll(out, error)) {
    return false;
  }
  reply->clear();
  ReplyScanner scanner;
  for (;;) {
    ReplyScanner::Frame frame;
    const ReplyScanner::Status st = scanner.scan(*reply, &frame);
    if (st == ReplyScanner::Status::kComplete) {
      reply->resize(frame.length);  // (nothing is pipelined behind it)
      return true;
    }
    if (st == ReplyScanner::Status::kError)
      return failWith(std::string("bad reply: ") + scanner.error(), error);
    if (!receive(reply, error))
      return false;
  }
}

bool resolveNode(const std::string& host, uint16_t port, sockaddr_storage* out,
                 std::string* error) {
  *out = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return true;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || !res) {
    *error = gai_strerror(rc);
    return false;
  }
  const addrinfo* pick = res;
  for (const addrinfo* a = res; a; a = a->ai_next)
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  std::memcpy(out, pick->ai_addr, pick->ai_addrlen);
  if (pick->ai_family == AF_INET)
    v4->sin_port = htons(port);
  else
    v6->sin6_port = htons(port);
  freeaddrinfo(res);
  return true;
}

}  // namespace kw::cluster

#include "proxy/metrics/http_endpoint.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <memory>
#include <string_view>

#include "common/config_loader.h"
#include "common/net_address.h"

namespace kw {

struct MetricsHttpEndpoint::Impl {
  struct Conn {
    Impl* ep = nullptr;
    uv_tcp_t tcp{};
    uv_timer_t timer{};
    uv_write_t write{};
    uv_shutdown_t shutdown{};
    Conn* prev = nullptr;
    Conn* next = nullptr;
    int open_handles = 0;
    bool closing = false;
    bool responded = false;
    uint64_t last_active_ms = 0;  // accept or last bytes read, for choosing whom to evict
    size_t len = 0;
    std::unique_ptr<char[]> buf;
    std::string response;
    char discard[512];
  };

  BodyFn metrics;
  HealthFn healthy;
  Options options;
  uv_loop_t* loop = nullptr;
  uv_tcp_t listener{};
  bool listener_open = false;
  bool stopped = false;
  int port = 0;
  unsigned conns = 0;  // allocated, including those whose handles are still closing
  unsigned live = 0;   // not closing: what max_connections bounds
  Conn* head = nullptr;

  void maybeDelete() {
    if (stopped && !listener_open && conns == 0)
      delete this;
  }

  static void onConnection(uv_stream_t* server, int status);
  static void onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t*);
  static void onTimeout(uv_timer_t* t);
  static void onWrite(uv_write_t* w, int status);
  static void onShutdown(uv_shutdown_t* s, int status);
  static void onConnHandleClosed(uv_handle_t* h);

  void close(Conn* c);
  Conn* idlest(const Conn* except) const;
  void handle(Conn* c);
  void respond(Conn* c, int status, std::string_view content_type, std::string body, bool head_only,
               std::string_view extra_headers = {});
};

namespace {

std::string_view reason(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 431:
    return "Request Header Fields Too Large";
  case 503:
    return "Service Unavailable";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Error";
  }
}

// RFC 9110 token characters, for the method.
bool isTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Where the request head ends (just past the blank line), or 0 while it is incomplete. Bare LF
// line ends are tolerated as RFC 9112 allows.
size_t headEnd(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != '\n')
      continue;
    if (i + 1 < n && p[i + 1] == '\n')
      return i + 2;
    if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
      return i + 3;
  }
  return 0;
}

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
constexpr std::string_view kExposition = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

void MetricsHttpEndpoint::Impl::onConnection(uv_stream_t* server, int status) {
  auto* ep = static_cast<Impl*>(server->data);
  if (status < 0 || ep->stopped)
    return;
  auto* c = new Conn;
  c->ep = ep;
  uv_tcp_init(ep->loop, &c->tcp);
  uv_timer_init(ep->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  c->last_active_ms = uv_now(ep->loop);
  c->next = ep->head;
  if (ep->head)
    ep->head->prev = c;
  ep->head = c;
  ++ep->conns;
  ++ep->live;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    ep->close(c);
    return;
  }
  if (ep->live > ep->options.max_connections) {
    // Full: idle connections (a slow-loris, or clients that never send) must not lock out the
    // next scrape, so the one that has waited longest without sending anything makes room.
    // Connections already being answered are left to finish.
    Conn* victim = ep->idlest(c);
    ep->close(victim != nullptr ? victim : c);
    if (victim == nullptr)
      return;
  }
  c->buf = std::make_unique<char[]>(ep->options.max_request_bytes);
  uv_timer_start(&c->timer, &onTimeout, ep->options.header_timeout_ms, 0);
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), &onAlloc, &onRead) != 0)
    ep->close(c);
}

MetricsHttpEndpoint::Impl::Conn* MetricsHttpEndpoint::Impl::idlest(const Conn* except) const {
  Conn* best = nullptr;
  for (Conn* c = head; c != nullptr; c = c->next) {
    if (c == except || c->closing || c->responded)
      continue;
    if (best == nullptr || c->last_active_ms <= best->last_active_ms)
      best = c;  // '<=': the list is newest first, so ties go to the older connection
  }
  return best;
}

void MetricsHttpEndpoint::Impl::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(h->data);
  // Once answered, whatever else the client sends is read and dropped: closing a socket with
  // unread input makes the kernel send a reset, which can destroy the response in flight.
  if (c->responded) {
    *buf = uv_buf_init(c->discard, sizeof c->discard);
  } else {
    *buf = uv_buf_init(c->buf.get() + c->len,
                       static_cast<unsigned>(c->ep->options.max_request_bytes - c->len));
  }
}

void MetricsHttpEndpoint::Impl::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  auto* c = static_cast<Conn*>(s->data);
  if (nread < 0) {
    c->ep->close(c);
    return;
  }
  if (c->responded || nread == 0)
    return;
  c->last_active_ms = uv_now(c->ep->loop);
  c->len += static_cast<size_t>(nread);
  c->ep->handle(c);
}

void MetricsHttpEndpoint::Impl::handle(Conn* c) {
  size_t end = headEnd(c->buf.get(), c->len);
  if (end == 0) {
    if (c->len >= options.max_request_bytes) {
      respond(c, 431, kTextPlain, "request too large\n", false);
    }
    return;
  }
  std::string_view req(c->buf.get(), end);
  std::string_view line = req.substr(0, req.find('\n'));
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);

  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    respond(c, 400, kTextPlain, "bad request\n", false);
    return;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  bool method_ok = !method.empty();
  for (char ch : method)
    method_ok = method_ok && isTchar(ch);
  if (!method_ok || target.empty()) {
    respond(c, 400, kTextPlain, "bad request\n", false);
    return;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    if (version.substr(0, 5) == "HTTP/" && version.size() > 5) {
      respond(c, 505, kTextPlain, "HTTP version not supported\n", false);
    } else {
      respond(c, 400, kTextPlain, "bad request\n", false);
    }
    return;
  }
  // absolute-form ("http://host:port/metrics"), which HTTP/1.1 servers must accept.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.substr(0, scheme.size()) == scheme) {
      target.remove_prefix(scheme.size());
      size_t slash = target.find('/');
      target = slash == std::string_view::npos ? "/" : target.substr(slash);
    }
  }
  std::string_view path = target.substr(0, target.find_first_of("?#"));

  bool head_only = method == "HEAD";
  bool get = method == "GET" || head_only;
  if (path == "/metrics" || path == "/healthz") {
    if (!get) {
      respond(c, 405, kTextPlain, "method not allowed\n", false, "Allow: GET, HEAD\r\n");
    } else if (path == "/metrics") {
      respond(c, 200, kExposition, metrics ? metrics() : std::string(), head_only);
    } else if (healthy && healthy()) {
      respond(c, 200, kTextPlain, "ok\n", head_only);
    } else {
      respond(c, 503, kTextPlain, "upstream down\n", head_only);
    }
    return;
  }
  respond(c, 404, kTextPlain, "not found\n", head_only);
}

void MetricsHttpEndpoint::Impl::respond(Conn* c, int status, std::string_view content_type,
                                        std::string body, bool head_only,
                                        std::string_view extra_headers) {
  c->responded = true;
  c->buf.reset();
  // The head is in: from now on the deadline is for sending the response and seeing the close.
  uv_timer_start(&c->timer, &onTimeout, options.timeout_ms, 0);
  std::string& r = c->response;
  r.reserve(160 + (head_only ? 0 : body.size()));
  r += "HTTP/1.1 ";
  r += std::to_string(status);
  r += ' ';
  r += reason(status);
  r += "\r\nContent-Type: ";
  r += content_type;
  r += "\r\nContent-Length: ";
  r += std::to_string(body.size());
  r += "\r\nConnection: close\r\n";
  r += extra_headers;
  r += "\r\n";
  if (!head_only)
    r += body;
  uv_buf_t b = uv_buf_init(r.data(), static_cast<unsigned>(r.size()));
  if (uv_write(&c->write, reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1, &onWrite) != 0) {
    close(c);
  }
}

void MetricsHttpEndpoint::Impl::onWrite(uv_write_t* w, int status) {
  auto* c = static_cast<Conn*>(w->handle->data);
  if (status < 0) {
    c->ep->close(c);
    return;
  }
  // Half-close, then wait for the client's EOF (or the deadline) before closing for good.
  if (uv_shutdown(&c->shutdown, w->handle, &onShutdown) != 0)
    c->ep->close(c);
}

void MetricsHttpEndpoint::Impl::onShutdown(uv_shutdown_t* s, int status) {
  if (status < 0) {
    auto* c = static_cast<Conn*>(s->handle->data);
    c->ep->close(c);
  }
}

void MetricsHttpEndpoint::Impl::onTimeout(uv_timer_t* t) {
  auto* c = static_cast<Conn*>(t->data);
  c->ep->close(c);
}

void MetricsHttpEndpoint::Impl::close(Conn* c) {
  if (c->closing)
    return;
  c->closing = true;
  --live;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &onConnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), &onConnHandleClosed);
}

void MetricsHttpEndpoint::Impl::onConnHandleClosed(uv_handle_t* h) {
  auto* c = static_cast<Conn*>(h->data);
  if (--c->open_handles > 0)
    return;
  Impl* ep = c->ep;
  if (c->prev)
    c->prev->next = c->next;
  if (c->next)
    c->next->prev = c->prev;
  if (ep->head == c)
    ep->head = c->next;
  --ep->conns;
  delete c;
  ep->maybeDelete();
}

MetricsHttpEndpoint::MetricsHttpEndpoint(BodyFn metrics, HealthFn healthy)
    : MetricsHttpEndpoint(std::move(metrics), std::move(healthy), Options{}) {}

MetricsHttpEndpoint::MetricsHttpEndpoint(BodyFn metrics, HealthFn healthy, Options options)
    : metrics_(std::move(metrics)), healthy_(std::move(healthy)), options_(options) {}

MetricsHttpEndpoint::~MetricsHttpEndpoint() {
  stop();
}

bool MetricsHttpEndpoint::start(uv_loop_t* loop, const HostPort& listen, std::string* error) {
  stop();
  const std::string where = formatHostPort(listen);
  SocketAddress addr;
  std::string reason;
  if (!resolveHostPort(listen, AddressUse::kListen, &addr, &reason)) {
    if (error)
      *error = "metrics listen " + where + ": cannot resolve host (" + reason + ")";
    return false;
  }

  auto* ep = new Impl;
  ep->metrics = metrics_;
  ep->healthy = healthy_;
  ep->options = options_;
  ep->loop = loop;
  uv_tcp_init(loop, &ep->listener);
  ep->listener.data = ep;
  ep->listener_open = true;
  int rc = uv_tcp_bind(&ep->listener, addr.get(), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&ep->listener), 511, &Impl::onConnection);
  }
  if (rc != 0) {
    if (error) {
      *error = "metrics listen " + where + ": " + uv_strerror(rc);
      if (rc == UV_EADDRINUSE)
        *error += " (port " + std::to_string(listen.port) +
                  " is taken by another process, perhaps another keywarden)";
    }
    impl_ = ep;
    stop();
    return false;
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  if (uv_tcp_getsockname(&ep->listener, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    if (bound.ss_family == AF_INET) {
      ep->port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    } else if (bound.ss_family == AF_INET6) {
      ep->port = ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    }
  }
  impl_ = ep;
  return true;
}

void MetricsHttpEndpoint::stop() {
  Impl* ep = impl_;
  if (!ep)
    return;
  impl_ = nullptr;
  ep->stopped = true;
  for (Impl::Conn* c = ep->head; c; c = c->next)
    ep->close(c);
  if (ep->listener_open) {
    uv_close(reinterpret_cast<uv_handle_t*>(&ep->listener), [](uv_handle_t* h) {
      auto* e = static_cast<Impl*>(h->data);
      e->listener_open = false;
      e->maybeDelete();
    });
  } else {
    ep->maybeDelete();
  }
}

int MetricsHttpEndpoint::port() const {
  return impl_ ? impl_->port : 0;
}

}  // namespace kw

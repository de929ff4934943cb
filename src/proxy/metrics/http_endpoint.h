// The metrics HTTP endpoint: GET /metrics (Prometheus text format) and GET /healthz (200 when
// the upstream is reachable, 503 otherwise) on the main thread's libuv loop.
//
// Not prometheus-cpp's pull Exposer: it serves through CivetWeb on threads of its own and has
// no way to answer /healthz with a 503, and two endpoints would mean two ports. This one is a
// deliberately small HTTP/1.1 subset: one request per connection (Connection: close), request
// head capped at 8 KiB and due within 3 s of the connect, the response and the close within 5 s
// more, a bounded number of connections. When every slot is taken, a new connection makes room
// by closing the one that has been idle longest, so idle sockets (a slow-loris) cannot lock the
// next scrape out. Untrusted bytes are only ever searched and compared, never trusted for a
// length.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "common/config.h"

namespace kw {

class MetricsHttpEndpoint {
public:
  struct Options {
    uint32_t header_timeout_ms = 3000;  // connect to the end of the request head
    uint32_t timeout_ms = 5000;         // end of the request head to the close
    size_t max_request_bytes = 8192;    // request line + headers
    unsigned max_connections = 64;      // at the cap, a new one closes the idlest
  };
  // Called on the loop thread, once per request: the /metrics body, and the /healthz verdict.
  using BodyFn = std::function<std::string()>;
  using HealthFn = std::function<bool()>;

  MetricsHttpEndpoint(BodyFn metrics, HealthFn healthy);
  MetricsHttpEndpoint(BodyFn metrics, HealthFn healthy, Options options);
  // Calls stop(); the handles finish closing on the loop's next turn.
  ~MetricsHttpEndpoint();
  MetricsHttpEndpoint(const MetricsHttpEndpoint&) = delete;
  MetricsHttpEndpoint& operator=(const MetricsHttpEndpoint&) = delete;

  // On the loop's thread (or before the loop runs). False with *error if the address does not
  // resolve or cannot be bound; port 0 binds an ephemeral port, see port().
  bool start(uv_loop_t* loop, const HostPort& listen, std::string* error);
  // On the loop's thread: closes the listener and every connection. The memory behind the
  // handles is freed by their close callbacks, so the loop must run once more (it does when the
  // caller keeps running it, or uv_run() until it returns); the object may go away at once.
  // Call it before any uv_walk that closes every handle of the loop.
  void stop();
  // The bound port, 0 before start() succeeded or after stop().
  int port() const;

private:
  struct Impl;
  BodyFn metrics_;
  HealthFn healthy_;
  Options options_;
  Impl* impl_ = nullptr;  // owned by its handles once stop() ran
};

}  // namespace kw

// Learns what the proxy reports about the upstream: its version (HELLO replies) and its command
// table (key positions of commands the proxy does not know by name). Blocking calls with a short
// timeout (cluster::NodeQuery: TCP, a Unix socket or TLS, as the upstream is configured); runs on
// the main thread only, never on a worker loop.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "proxy/command_table.h"
#include "tls/tls_context.h"

namespace kw {

struct UpstreamFacts {
  std::string version;
  int64_t busy_threshold_ms = -1;  // busy-reply-threshold (lua-time-limit); -1: unknown
  std::shared_ptr<const CommandTable> commands;
};

// `tls`: the upstream's client context (null without upstream.tls).
bool probeUpstream(const UpstreamConfig& up, std::shared_ptr<const TlsContext> tls,
                   UpstreamFacts* out, std::string* error);

}  // namespace kw

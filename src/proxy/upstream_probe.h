// Learns what the proxy reports about the upstream: its version (HELLO replies) and its command
// table (key positions of commands the proxy does not know by name). Blocking hiredis calls with
// a short timeout; runs on the main thread only, never on a worker loop.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "proxy/command_table.h"

namespace kw {

struct UpstreamFacts {
  std::string version;
  int64_t busy_threshold_ms = -1;  // busy-reply-threshold (lua-time-limit); -1: unknown
  std::shared_ptr<const CommandTable> commands;
};

bool probeUpstream(const UpstreamConfig& up, UpstreamFacts* out, std::string* error);

}  // namespace kw

// TOML -> Config. Validates everything up front so the rest of the proxy can trust the Config.
// Errors are one per line, "FILE:LINE: section.key: what is wrong"; all problems in a file are
// reported at once. Never throws.
#pragma once

#include <string>
#include <string_view>

#include "common/config.h"

namespace kw {

// On success *out is replaced by defaults overlaid with the file's keys (source_path left
// empty); on failure *out is untouched and *error holds the messages.
bool parseConfigText(std::string_view text, std::string_view source_name, Config* out,
                     std::string* error);

// Reads and parses the file, then sets out->source_path = path.
bool loadConfigFile(const std::string& path, Config* out, std::string* error);

// "host:port" or "[ipv6]:port"; IPv6 hosts are stored without brackets. Port 0 is accepted
// only with allow_port_zero (a listener asking the kernel for a free port). *error (when
// non-null) gets a reason without the input echoed back.
bool parseHostPort(std::string_view text, bool allow_port_zero, HostPort* out, std::string* error);

// Inverse of parseHostPort: brackets an IPv6 host.
std::string formatHostPort(const HostPort& hp);

}  // namespace kw

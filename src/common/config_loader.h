// TOML -> Config. Validates everything up front so the rest of the proxy can trust the Config.
// Errors are one per line, "FILE:LINE: section.key: what is wrong"; all problems in a file are
// reported at once. Never throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/config.h"

namespace kw {

struct ConfigParseOptions {
  // Host names of listen and upstream addresses must resolve (net_address.h), as startup needs
  // them to. Off for parsing alone (tests, fuzzing): no name service is asked.
  bool resolve_addresses = false;
};

// On success *out is replaced by defaults overlaid with the file's keys (source_path left
// empty); on failure *out is untouched and *error holds the messages.
bool parseConfigText(std::string_view text, std::string_view source_name, Config* out,
                     std::string* error, ConfigParseOptions options = {});

// Reads and parses the file with every address resolved, then sets out->source_path = path.
bool loadConfigFile(const std::string& path, Config* out, std::string* error);

// "host:port" or "[ipv6]:port"; IPv6 hosts are stored without brackets. Port 0 is accepted
// only with allow_port_zero (a listener asking the kernel for a free port). *error (when
// non-null) gets a reason without the input echoed back.
bool parseHostPort(std::string_view text, bool allow_port_zero, HostPort* out, std::string* error);

// parseHostPort, or "unix:/PATH" (a Unix socket, unix_address.h) where one is allowed.
bool parseHostPortOrUnix(std::string_view text, bool allow_port_zero, HostPort* out,
                         std::string* error);

// A file mode in octal ("0660", "660"), at most 0777.
bool parseUnixMode(std::string_view text, uint32_t* mode);

// Inverse of parseHostPortOrUnix: brackets an IPv6 host; "unix:/PATH" for a Unix socket.
std::string formatHostPort(const HostPort& hp);

}  // namespace kw

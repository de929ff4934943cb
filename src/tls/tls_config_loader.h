// The TLS keys of the TOML file (tls_config.h): the [tls] section and the tls* keys of
// [upstream]. config_loader.cc hands them over (claimed there, so they are not "unknown");
// errors go back through its sink as `path: what is wrong`, with the value's line.
#pragma once

#include <functional>
#include <string_view>

#include "common/config_key.h"
#include "common/host_port.h"
#include "tls/tls_config.h"

namespace kw {

// The [tls] section. `server_listen` is server.listen (already read): the two listeners must
// differ. With `resolve`, the listen host must resolve now, as startup will need it to.
void readTlsSection(const ConfigKey& section, const HostPort& server_listen, bool resolve,
                    const ConfigErrorSink& error, TlsServerConfig* out);

// The tls* keys of [upstream]; `claim` marks a key of that table as known and returns it.
using ConfigClaim = std::function<ConfigKey(std::string_view key)>;
void readUpstreamTls(const ConfigClaim& claim, const ConfigErrorSink& error,
                     UpstreamTlsConfig* out);

}  // namespace kw

// The rate-limit keys of the TOML file (ratelimit_config.h). config_loader.cc reads everything
// else and hands these keys over as they come (claimed, so they are not "unknown"); errors go
// back through its sink with file:line like every other configuration error.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

// The packaged libtomlplusplus is built with exceptions; nothing here throws (values are only
// inspected).
#include <toml++/toml.h>

#include "common/config_key.h"

#include "common/ratelimit_config.h"

namespace kw {

// [[namespaces]] rate_limit and rate_limit_fallback, for the namespace just read (called once
// per namespace, in file order, so the vectors line up with the namespace ids).
void readNamespaceRateLimit(const ConfigKey& limit, const ConfigKey& fallback,
                            const ConfigErrorSink& error, RateLimitConfig* out);
// [[users]] rate_limit.
void readUserRateLimit(const ConfigKey& limit, std::string_view user, const ConfigErrorSink& error,
                       RateLimitConfig* out);
// [limits] per_client_rate_limit.
void readClientRateLimit(const ConfigKey& limit, const ConfigErrorSink& error,
                         RateLimitConfig* out);
// The [rate_limit] section. Read after everything above: it also completes `out`.
void readRateLimitSection(const ConfigKey& section, const ConfigErrorSink& error,
                          RateLimitConfig* out);

}  // namespace kw

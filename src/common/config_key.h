// A key of the TOML file that config_loader.cc hands over to a feature's own loader
// (ratelimit_config_loader.cc, cache_config_loader.cc, ...): claimed there, so it is not
// "unknown"; errors go back through the sink with file:line like every other configuration error.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

// The packaged libtomlplusplus is built with exceptions; nothing here throws (values are only
// inspected).
#include <toml++/toml.h>

namespace kw {

struct ConfigKey {
  const toml::node* node = nullptr;  // nullptr: absent
  std::string path;                  // as errors name it: "namespaces[2].rate_limit"
};
using ConfigErrorSink = std::function<void(uint32_t line, const std::string& message)>;

}  // namespace kw

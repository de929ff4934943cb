// A key of the TOML file that config_loader.cc hands over to a feature's own loader
// (ratelimit_config_loader.cc, cache_config_loader.cc, ...): claimed there, so it is not
// "unknown"; errors go back through the sink with file:line like every other configuration error.
// Also the value readers those loaders share, with the same error texts.
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

// The line of a value in its file.
uint32_t configLine(const toml::node& node);
// A value as the file has it, for "got ..." (control characters escaped, long values cut).
std::string describeConfigValue(const toml::node& node);
// `path: expected true or false, got ...` / `path: expected an integer in min..max, got ...`
// through `error` when the value does not fit; *out is set only when it does.
bool readConfigBool(const toml::node& node, const std::string& path, const ConfigErrorSink& error,
                    bool* out);
bool readConfigInt(const toml::node& node, const std::string& path, int64_t min, int64_t max,
                   const ConfigErrorSink& error, int64_t* out);
template <typename T>
bool readConfigInt(const toml::node& node, const std::string& path, int64_t min, int64_t max,
                   const ConfigErrorSink& error, T* out) {
  int64_t v = 0;
  if (!readConfigInt(node, path, min, max, error, &v))
    return false;
  *out = static_cast<T>(v);
  return true;
}

}  // namespace kw

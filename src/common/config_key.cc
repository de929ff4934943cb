#include "common/config_key.h"

#include <sstream>

namespace kw {

namespace {
constexpr size_t kMaxShown = 80;
}  // namespace

uint32_t configLine(const toml::node& node) {
  return node.source().begin.line;
}

std::string describeConfigValue(const toml::node& node) {
  if (node.is_table())
    return "a table";
  if (node.is_array())
    return "an array";
  std::ostringstream os;
  if (const auto* s = node.as_string())
    os << '"' << s->get() << '"';
  else
    node.visit([&os](const auto& v) { os << v; });
  std::string raw = os.str(), out;
  for (size_t i = 0; i < raw.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += raw[i];
    }
  }
  if (raw.size() > kMaxShown)
    out += "...";
  return out;
}

bool readConfigBool(const toml::node& node, const std::string& path, const ConfigErrorSink& error,
                    bool* out) {
  if (const auto* v = node.as_boolean()) {
    *out = v->get();
    return true;
  }
  error(configLine(node), path + ": expected true or false, got " + describeConfigValue(node));
  return false;
}

bool readConfigInt(const toml::node& node, const std::string& path, int64_t min, int64_t max,
                   const ConfigErrorSink& error, int64_t* out) {
  const auto* v = node.as_integer();
  if (v == nullptr || v->get() < min || v->get() > max) {
    error(configLine(node), path + ": expected an integer in " + std::to_string(min) + ".." +
                                std::to_string(max) + ", got " + describeConfigValue(node));
    return false;
  }
  *out = v->get();
  return true;
}

}  // namespace kw
